"""A generated list of status claims, true and false, for the claim verifier
(`answer/claims.py`): issue 23's phrasings and their neighbours, French and
English, about two measures of each status, alone and joined in pairs.

A phrasing claims a set of statuses ("n'est pas non réalisée": Réalisée or
Partiellement réalisée). It is *true* when the measure's status in the
document model is in that set (for a pair, both measures'), *false* otherwise.
"""

from __future__ import annotations

from dataclasses import dataclass

from traite_qa.types import Status

R, P, N = Status.REALISEE, Status.PARTIELLEMENT, Status.NON_REALISEE
CYR_E, CYR_A, CYR_O, GR_O, CYR_I = "\u0435", "\u0430", "\u043e", "\u03bf", "\u0456"

# Two measures of each status in the document (checked against the model by the test).
MEASURES = {38: R, 45: R, 1: P, 20: P, 16: N, 2: N}
PAIRS = [(38, 45), (38, 16), (16, 38), (1, 20), (2, 16), (45, 1), (20, 2)]

SINGLE = {
    frozenset({R}): [
        "La mesure {n} est réalisée.",
        "La mesure {n} a été menée à bien.",
        "La mesure {n} a vu le jour.",
        "La mesure {n} est désormais effective.",
        "La CNCDH se félicite de la réalisation de la mesure {n}.",
        "La CNCDH salue la mise en œuvre de la mesure {n}.",
        f"La mesure {{n}} est R{CYR_E}alisée.",
        f"La mesure {{n}} est réalis{CYR_E}{CYR_E}.",
        f"La mesure {{n}} a été mis{CYR_E} en {GR_O}euvre.",
        "La mesure {n} est r\u00e9alis\u00e9e.",
        "La mesure {n} est re\u0301alise\u0301e.",  # combining accents
        "La mesure {n} est 𝐫𝐞́𝐚𝐥𝐢𝐬𝐞́𝐞.",  # mathematical bold
        "La mesure {n} est réa\u200blisée.",
        "Mesure {n} : ✅",
        "Mesure {n} : ✅️ [Mesure {n}]",
        "Mesure {n} ✔",
        "✅ Mesure {n}.",
        "Mesure {n} : ☑",
        "La mesure {n} a abouti.",
        "La mesure {n} est achevée.",
        "La mesure {n} a été concrétisée.",
        "La mesure {n} est un succès.",
        "La mesure {n} est une réussite.",
        "La mesure {n} est entrée en vigueur.",
        "La mesure {n} est pleinement appliquée.",
        "La mesure {n} a été mise en œuvre.",
        "La mesure {n} est chose faite.",
        "La mesure {n} a été exécutée.",
        "La mesure {n} a été intégralement réalisée.",
        "La mesure {n} est opérationnelle.",
        "La mesure {n} est bel et bien réalisée.",
        "La mesure n° {n} a été finalisée.",
        "La {n}e mesure est terminée.",
        "Measure {n} is done.",
        "Measure {n} is complete.",
        "Measure {n} is completed.",
        "Measure {n} is a success.",
        "Measure {n} is implemented.",
        "Measure {n} was delivered.",
        "Measure {n} has been fully achieved.",
        "Measure {n} has been carried out.",
        "Measure {n}: ✅",
        "Measure {n} is finished.",
        "Measure {n} was accomplished.",
        "Measure {n} is in place.",
        "Measure {n} has been put into effect.",
        "The CNCDH welcomes the implementation of measure {n}.",
        "Measure {n} was successfully completed.",
        "Measure {n} is now effective.",
        "Measure {n} is up and running.",
        f"M{CYR_E}asure {{n}} is d{CYR_O}ne.",
    ],
    frozenset({P}): [
        "La mesure {n} est partiellement réalisée.",
        "La mesure {n} n'a été réalisée qu'en partie.",
        "La mesure {n} est en cours de réalisation.",
        "La mesure {n} a été en partie menée à bien.",
        "La mesure {n} est à moitié réalisée.",
        "La mesure {n} a partiellement vu le jour.",
        f"La mesure {{n}} est p{CYR_A}rtiellement réalisée.",
        "La CNCDH salue la mise en œuvre partielle de la mesure {n}.",
        "Mesure {n} : 🟡",
        "Mesure {n} : ⚠️",
        "Measure {n} is partly done.",
        "Measure {n} is partially complete.",
        "Measure {n} is partially implemented.",
        "Measure {n} is half done.",
        "Measure {n} is in progress.",
        "Measure {n} has been partially delivered.",
    ],
    frozenset({N}): [
        "La mesure {n} n'est pas réalisée.",
        "La mesure {n} est non réalisée.",
        "La mesure {n} n'a pas vu le jour.",
        "La mesure {n} n'a jamais été menée à bien.",
        "La mesure {n} n'est pas effective.",
        "La mesure {n} n'a pas été mise en œuvre.",
        "La mesure {n} reste lettre morte.",
        "La mesure {n} est un échec.",
        f"La mesure {{n}} n'est p{CYR_A}s réalisée.",
        "La CNCDH déplore l'absence de mise en œuvre de la mesure {n}.",
        "La CNCDH regrette que la mesure {n} n'ait pas été réalisée.",
        "Mesure {n} : ❌",
        "Mesure {n} ✗",
        "❌ Mesure {n}.",
        "Measure {n} is not done.",
        "Measure {n} has not been implemented.",
        "Measure {n} was never delivered.",
        "Measure {n} has not been carried out.",
        "Measure {n} was not achieved.",
        "Measure {n}: ❌",
        "Measure {n} remains unimplemented.",
        "Measure {n} failed.",
    ],
    frozenset({R, P}): [
        "La mesure {n} n'est pas non réalisée.",
        "La mesure {n} n'est pas non-réalisée.",
        "Measure {n} is not unimplemented.",
        "It is not true that measure {n} was never implemented.",
    ],
    frozenset({P, N}): [
        "La mesure {n} n'a pas été entièrement réalisée.",
        "Measure {n} is not fully implemented.",
        "La mesure {n} est inachevée.",
        "Measure {n} is incomplete.",
    ],
}

PAIRED = {
    frozenset({R}): [
        "La mesure {a} et la mesure {b} sont réalisées.",
        "Les mesures {a} et {b} sont réalisées.",
        "Les mesures {a} et {b} ont été menées à bien.",
        "La mesure {a}, ainsi que la mesure {b}, a vu le jour.",
        "Measures {a} and {b} are done.",
        "Measure {a} and measure {b} are complete.",
        "Measure {a} as well as measure {b} has been delivered.",
        "Mesures {a} et {b} : ✅",
        "Mesure {a}, mesure {b} : ✅",
        "La CNCDH se félicite de la réalisation des mesures {a} et {b}.",
    ],
    frozenset({P}): [
        "Les mesures {a} et {b} sont partiellement réalisées.",
        "Measures {a} and {b} are partly implemented.",
    ],
    frozenset({N}): [
        "La mesure {a} et la mesure {b} ne sont pas réalisées.",
        "Measures {a} and {b} have not been implemented.",
        "Mesures {a} et {b} : ❌",
    ],
}


@dataclass(frozen=True)
class Phrasing:
    text: str
    measures: tuple[int, ...]
    claimed: frozenset[Status]

    @property
    def true(self) -> bool:
        return all(MEASURES[n] in self.claimed for n in self.measures)


def phrasings() -> list[Phrasing]:
    out = []
    for claimed, templates in SINGLE.items():
        for template in templates:
            out += [Phrasing(template.format(n=n), (n,), claimed) for n in MEASURES]
    for claimed, templates in PAIRED.items():
        for template in templates:
            out += [Phrasing(template.format(a=a, b=b), (a, b), claimed) for a, b in PAIRS]
    return out
