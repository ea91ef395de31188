-- wrk load script for GET /api/search (used by `python -m eval.load`).
--
--   wrk -t2 -c20 -d30s --timeout 10s -s eval/wrk/search.lua http://127.0.0.1:PORT
--
-- Each request searches one of the 50 realistic queries below (in turn, each
-- thread starting at a different one) with k=5. A reply counts as an error
-- when its status is not 2xx or its body is not a search result. done() prints
-- one line, `WRK_JSON {...}`: requests, non-2xx, bad bodies, socket errors and
-- the latency percentiles (microseconds), which eval/load.py parses.

local questions = {
  "mécanisme national de référence",
  "Où en est la mesure 16 ?",
  "formation des magistrats",
  "hébergement des victimes",
  "protection des mineurs victimes de traite",
  "Qu'est-ce que l'OCRTEH ?",
  "identification des victimes",
  "site gouvernemental dédié",
  "coopération internationale",
  "exploitation par le travail",
  "mineurs non accompagnés",
  "financement des associations",
  "titre de séjour pour les victimes",
  "sensibilisation du grand public",
  "formation des professionnels de santé",
  "Miprof",
  "comité de suivi du plan",
  "statistiques sur la traite",
  "rapporteur national indépendant",
  "indemnisation des victimes",
  "confiscation des avoirs criminels",
  "lutte contre la cybercriminalité",
  "prostitution des mineurs",
  "mendicité forcée",
  "contrainte à commettre des délits",
  "dispositif Ac.Sé",
  "accompagnement social et juridique",
  "What is the status of measure 3?",
  "national referral mechanism",
  "training of judges",
  "Combien de mesures sont réalisées ?",
  "Pourquoi la mesure 2 n'a-t-elle pas été réalisée ?",
  "Que recommande la CNCDH sur la formation ?",
  "évaluation de la politique publique",
  "ratification des instruments internationaux",
  "enquêtes et poursuites",
  "moyens d'enquête",
  "protection des victimes étrangères",
  "campagne Cœur Bleu",
  "comités locaux d'aide aux victimes",
  "plan de formation et de sensibilisation",
  "coordination des formations",
  "Que dit la note 47 ?",
  "mariages forcés",
  "esclavage domestique",
  "accès aux droits des victimes",
  "protection de l'enfance",
  "centres d'hébergement sécurisés",
  "prise en charge sanitaire",
  "pilotage interministériel",
}

local function urlencode(s)
  return (s:gsub("[^%w%-%._~]", function(c) return string.format("%%%02X", string.byte(c)) end))
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
  index = (id or 0) * 17
  paths = {}
  for i, q in ipairs(questions) do
    paths[i] = "/api/search?k=5&q=" .. urlencode(q)
  end
end

function request()
  index = index + 1
  return wrk.format("GET", paths[(index % #paths) + 1])
end

function response(status, headers, body)
  if status < 200 or status > 299 then
    non2xx = non2xx + 1
  elseif not body:find('"hits":[', 1, true) then
    bad_body = bad_body + 1
  end
end

function done(summary, latency, requests)
  local n2, bad = 0, 0
  for _, t in ipairs(threads) do
    n2 = n2 + t:get("non2xx")
    bad = bad + t:get("bad_body")
  end
  local e = summary.errors
  io.write(string.format(
    'WRK_JSON {"script":"search","questions":%d,"requests":%d,"duration_us":%d,"bytes":%d,"non2xx":%d,"bad_body":%d,' ..
    '"connect_errors":%d,"read_errors":%d,"write_errors":%d,"status_errors":%d,"timeouts":%d,' ..
    '"latency_us":{"min":%.1f,"mean":%.1f,"max":%.1f,"stdev":%.1f,"p50":%.1f,"p90":%.1f,"p95":%.1f,"p99":%.1f}}\n',
    #questions, summary.requests, summary.duration, summary.bytes, n2, bad,
    e.connect, e.read, e.write, e.status, e.timeout,
    latency.min, latency.mean, latency.max, latency.stdev,
    latency:percentile(50), latency:percentile(90), latency:percentile(95), latency:percentile(99)))
end
