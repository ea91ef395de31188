"""Query expansion for the lexical (BM25) side of the search.

Users ask in English or in everyday French; the document speaks
administrative French. BM25 cannot match "kids" with "mineurs" or "papiers"
with "titre de séjour", so a question's words bring their document-side
equivalents along. The dense side needs no help (e5 is multilingual) and
gets the question unchanged.

The lists hold general vocabulary of the field (trafficking, asylum, justice,
social work), not answers: a word maps to the words the document uses for
the same thing.
"""

from __future__ import annotations

import re

from ..text import fold

# English word (folded) -> French words of the document.
EN_FR = {
    "trafficking": "traite", "trafficked": "traite", "traffickers": "trafiquants exploiteurs", "human": "humains",
    "beings": "êtres", "victim": "victime", "victims": "victimes", "measure": "mesure", "measures": "mesures",
    "plan": "plan", "action": "action", "national": "national nationale", "day": "journée", "children": "enfants mineurs",
    "child": "enfant mineur", "kids": "enfants mineurs", "minors": "mineurs", "minor": "mineur", "safe": "sécurisé sécurisant",
    "shelter": "hébergement abri", "housing": "hébergement logement", "accommodation": "hébergement", "places": "places",
    "funding": "financement fonds subvention", "money": "financement budget fonds", "budget": "budget", "funds": "fonds",
    "grant": "subvention", "ngo": "associations", "ngos": "associations", "associations": "associations",
    "police": "police enquêteurs", "investigators": "enquêteurs", "investigation": "enquête", "prosecutor": "parquet procureur",
    "prosecutors": "parquets procureurs", "judge": "juge magistrat", "judges": "juges magistrats", "court": "tribunal juridiction",
    "courts": "tribunaux juridictions", "labour": "travail", "labor": "travail", "work": "travail", "forced": "forcé",
    "sexual": "sexuelle", "exploitation": "exploitation", "prostitution": "prostitution", "residence": "séjour",
    "permit": "titre", "permits": "titres", "papers": "titre séjour", "training": "formation", "trained": "formés formation",
    "awareness": "sensibilisation", "campaign": "campagne", "campaigns": "campagnes", "website": "site internet",
    "site": "site", "referral": "référence orientation", "mechanism": "mécanisme", "identification": "identification",
    "identify": "identifier", "psychological": "psychologique", "care": "prise en charge", "health": "santé",
    "return": "retour", "voluntary": "volontaire", "implemented": "réalisée mise en œuvre", "recommendation": "recommande",
    "recommends": "recommande", "city": "ville", "centre": "centre", "center": "centre", "centres": "centres",
    "replaced": "remplacées", "regional": "régionales", "department": "département", "coordination": "coordination",
    "international": "international", "cooperation": "coopération", "european": "européenne", "council": "conseil",
    "europe": "europe", "law": "loi", "decree": "décret", "article": "article", "report": "rapport", "survey": "enquête",
    "data": "données", "statistics": "statistiques", "school": "scolaires école", "schools": "scolaires",
    "companies": "entreprises", "company": "entreprise", "business": "entreprises", "employers": "employeurs",
    "migrants": "migrants", "refugees": "réfugiés", "asylum": "asile", "prefecture": "préfecture",
    "prefectures": "préfectures", "assets": "avoirs", "confiscated": "confisqués", "seized": "saisis",
    "evaluation": "évaluation", "assessment": "évaluation", "commission": "commission", "footnote": "note",
    "slavery": "esclavage", "modern": "moderne", "inspectors": "inspecteurs", "inspection": "inspection",
}

# Everyday French (folded) -> the document's words.
FR_FR = {
    "enfant": "mineur", "enfants": "mineurs", "gamin": "mineur", "gamins": "mineurs", "jeunes": "mineurs jeunesse",
    "abri": "hébergement sécurisé", "papiers": "titre séjour", "psy": "psychologues psychologique",
    "psys": "psychologues psychologique", "soigner": "prise en charge soins", "argent": "financement fonds budget", "tribunal": "parquet juridiction", "tribunaux": "parquets juridictions",
    "procureur": "parquet magistrat", "procureurs": "parquets magistrats", "juges": "magistrats", "juge": "magistrat",
    "flics": "police enquêteurs", "policiers": "enquêteurs police", "patrons": "employeurs entreprises",
    "grands groupes": "entreprises", "multinationales": "entreprises", "sous-traitants": "vigilance chaîne de valeur",
    "fournisseurs": "vigilance chaîne de valeur", "confisquer": "saisie confisqués avoirs patrimoniale",
    "saisir": "saisie avoirs", "controleurs": "inspecteurs inspection", "ecole": "scolaires éducation nationale",
    "eleves": "scolaires éducation", "classe": "scolaires", "rentrer": "retour",
    "internet": "site en ligne", "annonces": "sites en ligne", "campements": "bidonvilles squats",
    "squat": "squats bidonvilles", "logement": "hébergement", "loger": "hébergement", "associatif": "associations",
    "ong": "associations", "traumatisme": "psychotraumatisme psycho-traumatisme", "traumatismes": "psychotraumatisme",
}

_PHRASES = sorted((k for k in {**EN_FR, **FR_FR} if " " in k), key=len, reverse=True)


def expand(question: str, english: bool) -> str:
    """The question plus the document-side words of its terms, for BM25."""
    folded = fold(question)
    extra: list[str] = []
    for phrase in _PHRASES:
        if phrase in folded:
            extra.append({**EN_FR, **FR_FR}[phrase])
    for word in re.findall(r"[\w-]+", folded):
        if english and word in EN_FR:
            extra.append(EN_FR[word])
        elif word in FR_FR:
            extra.append(FR_FR[word])
    return f"{question} {' '.join(extra)}" if extra else question
