"""The medicines a chronic-migraine patient takes beside Botox, as code (docs/clinical-rules.md,
"Other migraine treatments"): classes and drugs, and the rules read from them (the NICE
"preventives failed" count, medication overuse, the interactions with onabotulinumtoxinA).

Code, not a table staff edit: every class carries a rule (whether it counts as a preventive
for NICE TA260, which overuse threshold it feeds, whether it interacts with the toxin), so a
drug typed into the wrong class would silently change a start decision, an overuse flag or a
sign-off warning. A new drug is a reviewed commit with its source, like a PREEMPT site
(treatments/protocol.py). Codes are stable: entries and reports store them.

Sources:
- NICE TA260 (2012), 1.1: "at least three prior pharmacological prophylaxis therapies".
- EHF 2018 (Bendtsen L, et al. J Headache Pain 2018;19:91) and the BNF's migraine prophylaxis:
  topiramate, valproate, propranolol, metoprolol, amitriptyline, candesartan, flunarizine.
- CGRP monoclonal antibodies: erenumab, fremanezumab, galcanezumab (subcutaneous),
  eptinezumab (intravenous); gepants: atogepant (preventive), rimegepant (acute and
  preventive), ubrogepant, zavegepant (acute).
- Acute classes and medication overuse: ICHD-3 8.2 (triptans, ergots, opioids, combination
  analgesics >= 10 days a month; simple analgesics and NSAIDs >= 15).
- Interactions: BOTOX US PI section 7 and UK SmPC 4.5 (aminoglycosides and other agents that
  interfere with neuromuscular transmission, anticholinergics, muscle relaxants, other
  botulinum neurotoxins within months).
"""

from dataclasses import dataclass

# What a class counts towards.
PREVENTIVE = "preventive"
ACUTE = "acute"
INTERACTING = "interacting"  # no migraine role: listed for the interaction warning
TOXIN = "toxin"  # another botulinum toxin: R12


@dataclass(frozen=True)
class DrugClass:
    code: str
    name: str
    role: str
    # A start or stop inside a judged window confounds R14-R16 (docs/clinical-rules.md).
    confounds_response: bool = False
    # The interaction warning at sign-off (BOTOX PI 7): on the list on the session's date.
    interacts: bool = False


@dataclass(frozen=True)
class Drug:
    code: str
    name: str
    drug_class: str
    # Also a preventive (rimegepant is licensed for both): it counts for NICE when stopped.
    preventive: bool = False

    @property
    def klass(self) -> DrugClass:
        return CLASSES[self.drug_class]

    @property
    def is_preventive(self) -> bool:
        return self.preventive or self.klass.role == PREVENTIVE

    def __str__(self) -> str:
        return self.name


CLASSES = {
    klass.code: klass
    for klass in (
        DrugClass("cgrp_mab", "CGRP monoclonal antibody", PREVENTIVE, confounds_response=True),
        DrugClass("gepant_preventive", "Gepant (preventive)", PREVENTIVE, confounds_response=True),
        DrugClass("antiepileptic", "Antiepileptic", PREVENTIVE, confounds_response=True),
        DrugClass("beta_blocker", "Beta blocker", PREVENTIVE, confounds_response=True),
        DrugClass("tricyclic", "Tricyclic antidepressant", PREVENTIVE, confounds_response=True),
        DrugClass("arb", "Angiotensin receptor blocker", PREVENTIVE, confounds_response=True),
        DrugClass(
            "calcium_blocker", "Calcium channel blocker", PREVENTIVE, confounds_response=True
        ),
        DrugClass("snri", "SNRI", PREVENTIVE, confounds_response=True),
        DrugClass("triptan", "Triptan", ACUTE),
        DrugClass("ditan", "Ditan", ACUTE),
        DrugClass("gepant_acute", "Gepant (acute)", ACUTE),
        DrugClass("ergot", "Ergot", ACUTE),
        DrugClass("opioid", "Opioid", ACUTE),
        DrugClass("simple_analgesic", "Simple analgesic", ACUTE),
        DrugClass("nsaid", "NSAID", ACUTE),
        DrugClass("combination_analgesic", "Combination analgesic", ACUTE),
        DrugClass("botulinum_toxin", "Other botulinum toxin", TOXIN),
        DrugClass("aminoglycoside", "Aminoglycoside", INTERACTING, interacts=True),
        DrugClass(
            "neuromuscular_blocker", "Other neuromuscular blocker", INTERACTING, interacts=True
        ),
        DrugClass("anticholinergic", "Anticholinergic", INTERACTING, interacts=True),
        DrugClass("muscle_relaxant", "Muscle relaxant", INTERACTING, interacts=True),
    )
}

DRUGS = {
    drug.code: drug
    for drug in (
        # CGRP monoclonal antibodies
        Drug("erenumab", "Erenumab", "cgrp_mab"),
        Drug("fremanezumab", "Fremanezumab", "cgrp_mab"),
        Drug("galcanezumab", "Galcanezumab", "cgrp_mab"),
        Drug("eptinezumab", "Eptinezumab (intravenous)", "cgrp_mab"),
        # gepants
        Drug("atogepant", "Atogepant", "gepant_preventive"),
        Drug("rimegepant", "Rimegepant", "gepant_acute", preventive=True),
        Drug("ubrogepant", "Ubrogepant", "gepant_acute"),
        Drug("zavegepant", "Zavegepant (nasal)", "gepant_acute"),
        # oral preventives
        Drug("topiramate", "Topiramate", "antiepileptic"),
        Drug("valproate", "Sodium valproate / divalproex", "antiepileptic"),
        Drug("propranolol", "Propranolol", "beta_blocker"),
        Drug("metoprolol", "Metoprolol", "beta_blocker"),
        Drug("amitriptyline", "Amitriptyline", "tricyclic"),
        Drug("nortriptyline", "Nortriptyline", "tricyclic"),
        Drug("candesartan", "Candesartan", "arb"),
        Drug("flunarizine", "Flunarizine", "calcium_blocker"),
        Drug("venlafaxine", "Venlafaxine", "snri"),
        # acute
        Drug("sumatriptan", "Sumatriptan", "triptan"),
        Drug("rizatriptan", "Rizatriptan", "triptan"),
        Drug("zolmitriptan", "Zolmitriptan", "triptan"),
        Drug("eletriptan", "Eletriptan", "triptan"),
        Drug("naratriptan", "Naratriptan", "triptan"),
        Drug("almotriptan", "Almotriptan", "triptan"),
        Drug("frovatriptan", "Frovatriptan", "triptan"),
        Drug("lasmiditan", "Lasmiditan", "ditan"),
        Drug("ergotamine", "Ergotamine", "ergot"),
        Drug("dihydroergotamine", "Dihydroergotamine", "ergot"),
        Drug("codeine", "Codeine", "opioid"),
        Drug("tramadol", "Tramadol", "opioid"),
        Drug("paracetamol", "Paracetamol (acetaminophen)", "simple_analgesic"),
        Drug("aspirin", "Aspirin", "simple_analgesic"),
        Drug("ibuprofen", "Ibuprofen", "nsaid"),
        Drug("naproxen", "Naproxen", "nsaid"),
        Drug("diclofenac", "Diclofenac", "nsaid"),
        Drug(
            "paracetamol_aspirin_caffeine",
            "Paracetamol + aspirin + caffeine",
            "combination_analgesic",
        ),
        Drug("co_codamol", "Co-codamol (paracetamol + codeine)", "combination_analgesic"),
        # other botulinum toxins (units are not interchangeable with Botox's)
        Drug("abobotulinumtoxina", "AbobotulinumtoxinA (Dysport)", "botulinum_toxin"),
        Drug("incobotulinumtoxina", "IncobotulinumtoxinA (Xeomin)", "botulinum_toxin"),
        Drug("rimabotulinumtoxinb", "RimabotulinumtoxinB (Myobloc)", "botulinum_toxin"),
        Drug("daxibotulinumtoxina", "DaxibotulinumtoxinA (Daxxify)", "botulinum_toxin"),
        # interacting with onabotulinumtoxinA
        Drug("gentamicin", "Gentamicin", "aminoglycoside"),
        Drug("tobramycin", "Tobramycin", "aminoglycoside"),
        Drug("amikacin", "Amikacin", "aminoglycoside"),
        Drug("neomycin", "Neomycin", "aminoglycoside"),
        Drug("rocuronium", "Rocuronium", "neuromuscular_blocker"),
        Drug("vecuronium", "Vecuronium", "neuromuscular_blocker"),
        Drug("succinylcholine", "Suxamethonium (succinylcholine)", "neuromuscular_blocker"),
        Drug("oxybutynin", "Oxybutynin", "anticholinergic"),
        Drug("tolterodine", "Tolterodine", "anticholinergic"),
        Drug("hyoscine", "Hyoscine (scopolamine)", "anticholinergic"),
        Drug("glycopyrronium", "Glycopyrronium", "anticholinergic"),
        Drug("baclofen", "Baclofen", "muscle_relaxant"),
        Drug("tizanidine", "Tizanidine", "muscle_relaxant"),
        Drug("cyclobenzaprine", "Cyclobenzaprine", "muscle_relaxant"),
        Drug("methocarbamol", "Methocarbamol", "muscle_relaxant"),
    )
}

# Every drug code, for the database's check constraint and the forms.
DRUG_CODES = tuple(DRUGS)


def drug_choices() -> list[tuple[str, list[tuple[str, str]]]]:
    """The catalogue grouped by class, for a select's optgroups."""
    groups: dict[str, list[tuple[str, str]]] = {}
    for drug in DRUGS.values():
        groups.setdefault(drug.klass.name, []).append((drug.code, drug.name))
    return list(groups.items())


def drug_name(code: str) -> str:
    drug = DRUGS.get(code)
    return drug.name if drug else code


# NICE TA260's "failed, not tolerated or unsuitable": the stop reasons that count. "Other"
# (cost, a pregnancy planned, the patient's choice) does not say the drug failed.
NICE_FAILED_REASONS = frozenset({"ineffective", "not_tolerated", "contraindicated"})


def preventives_failed(entries) -> int:
    """How many different preventive drugs the entries show failed, not tolerated or unsuitable
    (contraindicated): a drug tried twice counts once."""
    return len(
        {
            entry.drug
            for entry in entries
            if entry.drug in DRUGS
            and DRUGS[entry.drug].is_preventive
            and entry.stopped_on is not None
            and entry.stop_reason in NICE_FAILED_REASONS
        }
    )
