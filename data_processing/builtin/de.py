"""German prompts of the built-in set (original text written for multispec)."""
from __future__ import annotations

SUMMARY_TEMPLATE = "Fasse in einem Satz zusammen: {text}\nZusammenfassung:"
QA_TEMPLATE = "Frage: {question}\nAntwort:"

CHAT: list[str] = [
    "Wie kann ich im Winter Heizkosten sparen, ohne zu frieren?",
    "Was sollte man beachten, wenn man zum ersten Mal eine Wohnung mietet?",
    "Erkläre mir bitte in einfachen Worten, wie ein Kühlschrank funktioniert.",
    "Ich möchte mit dem Fahrrad zur Arbeit fahren. Welche Ausrüstung brauche ich?",
    "Schreibe eine kurze Einladung zu einem Grillabend im Garten für meine Kollegen.",
    "Welche Gerichte kann man gut vorkochen und für die ganze Woche einfrieren?",
    "Wie erkläre ich meiner Großmutter, was eine Videokonferenz ist?",
    "Gib mir drei Tipps, wie ich mich besser auf das Lesen konzentrieren kann.",
    "Was spricht für und was gegen einen Hund in einer Stadtwohnung?",
    "Beschreibe einen Herbstspaziergang im Wald in vier Sätzen.",
]

SUMMARIZATION: list[str] = [
    "Die Stadtwerke haben angekündigt, dass die Straßenbahnlinie 4 ab Mai bis zum Hauptfriedhof verlängert wird. "
    "Die Bauarbeiten haben zwei Jahre gedauert und waren teurer als geplant. Fahrgäste sparen auf der neuen "
    "Strecke etwa zehn Minuten. In den ersten zwei Wochen ist die Fahrt auf dem neuen Abschnitt kostenlos.",
    "Ein Verein aus dem Nachbarort repariert jeden ersten Samstag im Monat kaputte Geräte. Freiwillige helfen "
    "dabei, Toaster, Lampen und Fahrräder wieder in Gang zu bringen. Die Besucher zahlen nur für Ersatzteile. "
    "Nach Angaben des Vereins werden so jedes Jahr mehrere hundert Geräte vor dem Müll bewahrt.",
    "Die Grundschule am Marktplatz hat einen Schulgarten angelegt. Jede Klasse kümmert sich um ein eigenes Beet "
    "und pflanzt Kräuter, Salat und Kartoffeln. Im Herbst wird die Ernte gemeinsam in der Schulküche verarbeitet. "
    "Die Lehrerinnen berichten, dass die Kinder seitdem öfter Gemüse essen.",
    "Wegen des trockenen Sommers ist der Wasserstand im Stausee so niedrig wie seit zwanzig Jahren nicht mehr. "
    "Die Gemeinde bittet die Bewohner, ihre Gärten nur abends zu gießen. Schwimmen ist an zwei Badestellen "
    "vorübergehend verboten, weil dort Steine aus dem Wasser ragen.",
]

QA: list[tuple[str, str]] = [
    ("Wie viele Stunden hat ein Tag?", "24"),
    ("Welcher Fluss fließt durch Köln?", "Der Rhein"),
    ("Wie heißt die Hauptstadt von Österreich?", "Wien"),
    ("Wie viele Beine hat eine Spinne?", "Acht"),
    ("Was ist 7 mal 8?", "56"),
    ("In welcher Jahreszeit fallen die Blätter von den Bäumen?", "Im Herbst"),
    ("Wie nennt man ein Dreieck mit drei gleich langen Seiten?", "Gleichseitiges Dreieck"),
    ("Welches Tier ist das größte Säugetier der Erde?", "Der Blauwal"),
    ("Wie viele Monate haben 31 Tage?", "Sieben"),
    ("Aus welchem Material wird Glas hauptsächlich hergestellt?", "Aus Sand (Quarzsand)"),
]
