-- wrk load script for POST /api/ask (used by `python -m eval.load`).
--
--   wrk -t2 -c20 -d30s --timeout 10s -s eval/wrk/ask.lua http://127.0.0.1:PORT
--
-- Each request asks one of the 50 questions below (status, acronym, footnote,
-- count, why, recommendation and open questions, French and English), in turn,
-- each thread starting at a different one. A reply counts as an error when its
-- status is not 2xx or its body is not an Answer ("status": "answered" or
-- "no_evidence"). done() prints one line, `WRK_JSON {...}`, that
-- eval/load.py parses (latencies in microseconds).

local questions = {
  "Où en est la mesure 16 ?",
  "Quel est le statut de la mesure 3 ?",
  "La mesure 22 a-t-elle été réalisée ?",
  "What is the status of measure 38?",
  "Où en est la mesure 45 ?",
  "Quel est l'état d'avancement de la mesure 7 ?",
  "What is the status of measure 12?",
  "Où en est la mesure 30 ?",
  "Qu'est-ce que l'OCRTEH ?",
  "Que signifie CNCDH ?",
  "Que veut dire Miprof ?",
  "What does OFPRA stand for?",
  "Que signifie le sigle CLAV ?",
  "Que dit la note 47 ?",
  "Que dit la note 12 ?",
  "What does footnote 27 say?",
  "Combien de mesures sont réalisées ?",
  "Combien de mesures sont partiellement réalisées ?",
  "Combien de mesures ne sont pas réalisées ?",
  "How many measures are implemented?",
  "Combien de mesures compte l'axe 3 ?",
  "Quelles mesures de l'axe 2 sont non réalisées ?",
  "Pourquoi la mesure 2 n'a-t-elle pas été réalisée ?",
  "Pourquoi la mesure 16 n'est-elle pas réalisée ?",
  "Que recommande la CNCDH pour la mesure 16 ?",
  "Que recommande la CNCDH sur la formation des magistrats ?",
  "Que recommande la CNCDH sur l'hébergement des victimes ?",
  "Comment sont protégés les mineurs victimes de traite ?",
  "Qu'est-ce que le mécanisme national de référence ?",
  "Quels moyens pour les enquêtes sur la traite ?",
  "Comment sont identifiées les victimes ?",
  "Les victimes étrangères obtiennent-elles un titre de séjour ?",
  "Le site gouvernemental dédié a-t-il été créé ?",
  "Que dit la CNCDH sur la campagne Cœur Bleu ?",
  "Quelle coopération internationale contre la traite ?",
  "Comment les associations sont-elles financées ?",
  "Que dit l'évaluation sur l'exploitation par le travail ?",
  "Quel bilan la CNCDH tire-t-elle du plan ?",
  "What does the CNCDH recommend on training?",
  "How are child victims protected?",
  "Que dit l'évaluation sur la prostitution des mineurs ?",
  "Quelles formations pour les professionnels ?",
  "Qui pilote le plan national ?",
  "Comment la politique publique est-elle évaluée ?",
  "Que dit la CNCDH sur les comités locaux d'aide aux victimes ?",
  "Quelle indemnisation pour les victimes ?",
  "Les avoirs criminels sont-ils confisqués ?",
  "Que dit l'évaluation sur la mendicité forcée ?",
  "Quelle est la recette de la tarte tatin ?",
  "Quelle mesure porte sur le mécanisme national de référence ?",
}

local function json_string(s)
  return '"' .. s:gsub('\\', '\\\\'):gsub('"', '\\"') .. '"'
end

local threads = {}
local next_id = 0

function setup(thread)
  thread:set("id", next_id)
  next_id = next_id + 1
  table.insert(threads, thread)
end

function init(args)
  non2xx = 0
  bad_body = 0
  answered = 0
  index = (id or 0) * 17
  bodies = {}
  for i, q in ipairs(questions) do
    bodies[i] = '{"question":' .. json_string(q) .. '}'
  end
  headers = { ["Content-Type"] = "application/json" }
end

function request()
  index = index + 1
  return wrk.format("POST", "/api/ask", headers, bodies[(index % #bodies) + 1])
end

function response(status, headers, body)
  if status < 200 or status > 299 then
    non2xx = non2xx + 1
  elseif body:find('"status":"answered"', 1, true) then
    answered = answered + 1
  elseif not body:find('"status":"no_evidence"', 1, true) then
    bad_body = bad_body + 1
  end
end

function done(summary, latency, requests)
  local n2, bad, ok = 0, 0, 0
  for _, t in ipairs(threads) do
    n2 = n2 + t:get("non2xx")
    bad = bad + t:get("bad_body")
    ok = ok + t:get("answered")
  end
  local e = summary.errors
  io.write(string.format(
    'WRK_JSON {"script":"ask","questions":%d,"requests":%d,"duration_us":%d,"bytes":%d,"non2xx":%d,"bad_body":%d,"answered":%d,' ..
    '"connect_errors":%d,"read_errors":%d,"write_errors":%d,"status_errors":%d,"timeouts":%d,' ..
    '"latency_us":{"min":%.1f,"mean":%.1f,"max":%.1f,"stdev":%.1f,"p50":%.1f,"p90":%.1f,"p95":%.1f,"p99":%.1f}}\n',
    #questions, summary.requests, summary.duration, summary.bytes, n2, bad, ok,
    e.connect, e.read, e.write, e.status, e.timeout,
    latency.min, latency.mean, latency.max, latency.stdev,
    latency:percentile(50), latency:percentile(90), latency:percentile(95), latency:percentile(99)))
end
