"""The evidence gate of the retrieval route: answer, or say the document does not.

e5 cosines bunch between 0.75 and 0.9 whatever the question, so no single
cut-off separates "the cooking recipe" from "the third plan's budget". The gate
combines signals, each calibrated on the question set (`python -m eval.calibrate`):

1. off-topic: the best passage is far (cosine below a floor) AND many of the
   question's words never occur in the document;
2. unknown place: the question names a country or nationality the document
   never mentions (a plan of another country, victims in Germany);
3. answer type: "how much" needs an amount in the evidence, "how many" a
   number, "when" a date; quoting a sentence without one is not an answer.
"""

from __future__ import annotations

import re

from ..settings import Tuning
from ..text import analyze, fold
from ..types import Query
from ..understand import satisfies

_COUNTRIES = [
    r"allemagne|allemand\w*|germany|german", r"belgique|belge\w*|belgium|belgian", r"espagne|espagnol\w*|spain|spanish",
    r"italie|italien\w*|italy|italian", r"portugal|portugais\w*|portuguese", r"royaume-uni|britanni\w*|angleterre|england|uk|britain",
    r"suisse\w*|switzerland|swiss", r"autriche|autrichien\w*|austria\w*", r"pays-bas|neerlandais\w*|hollande|netherlands|dutch",
    r"luxembourg\w*", r"pologne|polonais\w*|poland|polish", r"roumanie|roumain\w*|romania\w*", r"bulgarie|bulgare\w*|bulgaria\w*",
    r"grece|grec|grecque\w*|greece|greek", r"hongrie|hongrois\w*|hungar\w*", r"tchequie|tcheque\w*|czech\w*",
    r"slovaquie|slovaque\w*", r"slovenie|slovene\w*", r"croatie|croate\w*|croatia\w*", r"serbie|serbe\w*|serbia\w*",
    r"albanie|albanais\w*|albania\w*", r"kosovo\w*", r"ukraine|ukrainien\w*|ukrainian", r"russie|russe\w*|russia\w*",
    r"turquie|turc|turque\w*|turkey|turkish", r"maroc|marocain\w*|morocc\w*", r"algerie|algerien\w*|algeria\w*",
    r"tunisie|tunisien\w*|tunisia\w*", r"libye|libyen\w*|libya\w*", r"egypte|egyptien\w*|egypt\w*",
    r"nigeria|nigerian\w*", r"senegal\w*", r"cote d'ivoire|ivoirien\w*", r"cameroun\w*|cameroon\w*", r"congo\w*",
    r"ghana\w*", r"guinee|guineen\w*", r"mali|malien\w*", r"chine|chinois\w*|china|chinese", r"japon\w*|japan\w*",
    r"coree|coreen\w*|korea\w*", r"inde|indien\w*|india|indian", r"pakistan\w*", r"bangladesh\w*", r"vietnam\w*",
    r"thailande|thai\w*", r"philippines|philippin\w*", r"indonesie|indonesien\w*|indonesia\w*", r"bresil|bresilien\w*|brazil\w*",
    r"argentine|argentin\w*", r"chili|chilien\w*|chile", r"colombie|colombien\w*|colombia\w*", r"venezuela\w*",
    r"mexique|mexicain\w*|mexic\w*", r"perou|peruvien\w*|peru\w*", r"etats-unis|americain\w*|usa|united states",
    r"canada|canadien\w*", r"australie|australien\w*|australia\w*", r"suede|suedois\w*|swed\w*",
    r"norvege|norvegien\w*|norw\w*", r"danemark|danois\w*|denmark|danish", r"finlande|finlandais\w*|finland\w*",
    r"irlande|irlandais\w*|ireland|irish",
]
_COUNTRY_RES = [re.compile(rf"\b(?:{p})\b") for p in _COUNTRIES]

class Gate:
    def __init__(self, corpus: str, vocabulary: set[str], tuning: Tuning):
        self.tuning = tuning
        self._corpus = fold(corpus)
        self._vocabulary = vocabulary
        self._known_places = {i for i, r in enumerate(_COUNTRY_RES) if r.search(self._corpus)}

    def unknown_place(self, question: str) -> str | None:
        """A country or nationality named in the question that the document never mentions."""
        folded = fold(question)
        for i, regex in enumerate(_COUNTRY_RES):
            match = regex.search(folded)
            if match and i not in self._known_places:
                return match.group(0)
        return None

    def absent_share(self, question: str) -> float:
        words = analyze(question)
        return sum(w not in self._vocabulary for w in words) / len(words) if words else 1.0

    def reason(self, query: Query, top_dense: float, evidence_texts: list[str]) -> str | None:
        """Why the evidence does not answer the question, or None when it does."""
        place = self.unknown_place(query.text)
        if place:
            return f"the document never mentions {place!r}"
        floor = self.tuning.floor_en if query.english else self.tuning.floor_fr
        if top_dense < floor and self.absent_share(query.text) >= self.tuning.max_absent_share:
            return f"off-topic (best passage cosine {top_dense:.3f} < {floor})"
        kind = query.answer_type
        if not satisfies(kind, evidence_texts):
            return f"the question asks for a {kind} and the evidence holds none"
        return None
