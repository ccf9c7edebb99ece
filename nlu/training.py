"""The training set: our lexicons plus hand-written sentences, as CSV and as Rasa NLU data.

Generated rather than typed twice, so Rasa and the built-in rules learn the same words.
Run `python -m nlu.training` after changing a lexicon; a test fails while the committed
files are stale. The held-out `data/replies-test.csv` is read only to keep its exact
replies out of Rasa's training data (one-word replies like "nahi" are in the lexicons
by nature, so the built-in rules are not blind to them).
"""

from __future__ import annotations

import csv
import io
from pathlib import Path

from nlu.lexicon import KEYWORDS, LANGUAGES, PHRASES

HERE = Path(__file__).parent
TRAIN_CSV = HERE / "data" / "replies-train.csv"
NLU_YML = HERE / "rasa" / "data" / "nlu.yml"
HELD_OUT_CSV = HERE / "data" / "replies-test.csv"


def held_out_texts() -> frozenset[str]:
    with open(HELD_OUT_CSV, encoding="utf-8", newline="") as handle:
        return frozenset(row["text"] for row in csv.DictReader(handle))


# Whole sentences people send, beyond single lexicon phrases.
SENTENCES: dict[str, dict[str, tuple[str, ...]]] = {
    "en": {
        "affirm": ("yes we did", "yes it works now", "yes thank you", "ok sure", "yes madam"),
        "deny": ("no we did not", "no it is still broken", "not yet", "no thanks"),
        "stop": ("stop sending me sms", "i want to unsubscribe", "no more messages please"),
        "help": ("what is this about", "can you help me", "how does this work", "i need info"),
        "number": (
            "we planted 45 trees",
            "about 30 seedlings",
            "it has been 12 days",
            "fifty six",
            "two hundred",
            "one thousand two hundred",
            "seven",
        ),
    },
    "sw": {
        "affirm": ("ndiyo tumepata", "ndio asante", "ndiyo kisima kinafanya kazi", "sawa kabisa"),
        "deny": ("hapana bado", "hapana haifanyi kazi", "hapana asante", "sijapata bado"),
        "stop": ("acha kunitumia ujumbe", "sitaki kupokea ujumbe", "msinitumie tena"),
        "help": ("naomba msaada tafadhali", "nahitaji msaada", "hii ni nini"),
        "number": (
            "tumepanda miti 40",
            "miche mia mbili",
            "siku kumi na mbili",
            "thelathini",
            "elfu moja mia tano",
            "sabini na saba",
            "nane",
        ),
    },
    "fr": {
        "affirm": ("oui merci", "oui ça marche", "oui nous l'avons reçu", "bien sûr que oui"),
        "deny": ("non merci", "non toujours pas", "non ça ne marche pas", "pas du tout"),
        "stop": ("arrêtez de m'envoyer des messages", "je veux me désabonner", "stop svp"),
        "help": ("j'ai besoin d'aide", "aidez-nous svp", "c'est quoi ce message"),
        "number": (
            "nous avons planté 60 arbres",
            "trente",
            "deux cent cinquante",
            "douze jours",
            "soixante-quinze",
            "mille deux cents",
            "sept",
        ),
    },
    "vi": {
        "affirm": ("vâng tôi nhận được rồi", "có ạ", "dạ có", "ừ được", "đúng vậy"),
        "deny": ("không ạ", "chưa có", "không được", "khong co", "chưa nhận"),
        "stop": ("dừng gửi tin nhắn", "tôi không muốn nhận tin", "hủy đăng ký"),
        "help": ("giúp tôi với", "tôi cần hỗ trợ", "cái này là gì"),
        "number": (
            "chúng tôi trồng 70 cây",
            "ba mươi",
            "hai trăm năm mươi",
            "mười hai ngày",
            "bảy mươi lăm",
            "một nghìn hai trăm",
            "bảy",
        ),
    },
    "hi": {
        "affirm": ("हाँ मिल गया", "जी हाँ", "हाँ ठीक है", "haan mil gaya"),
        "deny": ("नहीं मिला", "नहीं जी अभी नहीं", "nahi mila", "बिल्कुल नहीं"),
        "stop": ("संदेश मत भेजो", "मुझे संदेश नहीं चाहिए", "band karo message"),
        "help": ("मदद चाहिए", "कृपया मदद करें", "madad karo"),
        "number": ("हमने 40 पेड़ लगाए", "तीस", "दो सौ पचास", "बारह दिन", "पचहत्तर", "सात", "२५"),
    },
    "bn": {
        "affirm": ("হ্যাঁ পেয়েছি", "জি পেয়েছি", "হ্যাঁ ঠিক আছে"),
        "deny": ("না পাইনি", "না এখনো না", "জি না পাইনি"),
        "stop": ("মেসেজ পাঠাবেন না", "বন্ধ করে দিন", "আর মেসেজ চাই না"),
        "help": ("সাহায্য দরকার", "দয়া করে সাহায্য করুন", "সাহায্য চাই"),
        "number": ("আমরা ৪০টি গাছ লাগিয়েছি", "ত্রিশ", "দুইশো পঞ্চাশ", "বারো দিন", "সাত", "৭৫"),
    },
    "ne": {
        "affirm": ("हो पाएँ", "हजुर हो", "हुन्छ हजुर"),
        "deny": ("होइन पाइनँ", "छैन हजुर", "hoina paina"),
        "stop": ("सन्देश नपठाउनुहोस्", "बन्द गर्नुहोस्", "मलाई सन्देश नपठाउ"),
        "help": ("मद्दत चाहियो", "सहयोग गर्नुहोस्", "मलाई मद्दत गर"),
        "number": ("हामीले ४० रूख रोप्यौं", "तीस", "दुई सय पचास", "बाह्र दिन", "सात", "७५"),
    },
    "ny": {
        "affirm": ("inde ndalandira", "eya zikomo", "inde chabwino"),
        "deny": ("ayi sindinalandire", "ayi zikomo", "ayi palibe"),
        "stop": ("siyani kunditumizira mauthenga", "lekani chonde", "ndikufuna kuleka"),
        "help": ("ndithandizeni", "ndikufuna thandizo", "thandizani chonde"),
        "number": (
            "tabzala mitengo 40",
            "makumi atatu",
            "khumi ndi ziwiri",
            "zisanu",
            "makumi asanu ndi zisanu",
            "zana limodzi",
        ),
    },
    "ha": {
        "affirm": ("ee na samu", "na'am haka ne", "ee gaskiya ne", "to"),
        "deny": ("a'a ban samu ba", "a'a babu", "a'a ko kadan"),
        "stop": ("ku daina turo min sako", "ku tsaya", "bana son sakonni"),
        "help": ("ina son taimako", "ku taimake ni", "taimako don Allah"),
        "number": (
            "mun dasa itatuwa 40",
            "talatin",
            "ɗari biyu da hamsin",
            "goma sha biyu",
            "bakwai",
            "saba'in da biyar",
        ),
    },
    "ar": {
        "affirm": ("نعم وصلت", "ايوه تمام", "اكيد نعم", "صح"),
        "deny": ("لا ما وصل", "لا شكرا", "ابدا"),
        "stop": ("لا تبعتوا رسائل", "اوقفوا الرسائل", "ما بدي رسائل"),
        "help": ("بدي مساعدة", "ساعدني لو سمحت", "احتاج مساعدة"),
        "number": (
            "زرعنا ٤٠ شجرة",
            "ثلاثين",
            "مئتين وخمسين",
            "اثنا عشر يوم",
            "سبعة",
            "خمسة وسبعين",
        ),
    },
}


def examples() -> list[tuple[str, str, str]]:
    """(text, language, intent) rows, without duplicates."""
    rows: dict[tuple[str, str], str] = {}
    for language in LANGUAGES:
        for intent, entries in PHRASES.get(language, {}).items():
            for entry in entries:
                if not entry.endswith("*"):
                    rows.setdefault((entry, language), intent)
        for intent, entries in SENTENCES.get(language, {}).items():
            for entry in entries:
                rows.setdefault((entry, language), intent)
    for intent, entries in KEYWORDS.items():
        for entry in entries:
            rows.setdefault((entry, ""), intent)
    # The same words in two intents would teach Rasa a coin toss; keep the first.
    seen: dict[str, str] = {}
    out = []
    held_out = held_out_texts()
    for (text, language), intent in rows.items():
        if text in held_out:
            continue
        if seen.setdefault(text, intent) == intent:
            out.append((text, language, intent))
    return out


def render_csv(rows: list[tuple[str, str, str]]) -> str:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(["text", "language", "intent"])
    writer.writerows(rows)
    return buffer.getvalue()


def render_nlu_yml(rows: list[tuple[str, str, str]]) -> str:
    lines = ['version: "3.1"', "", "nlu:"]
    for intent in ("affirm", "deny", "stop", "start", "help", "number"):
        lines.append(f"- intent: {intent}")
        lines.append("  examples: |")
        for text, _, row_intent in rows:
            if row_intent == intent:
                lines.append(f"    - {text}")
    return "\n".join(lines) + "\n"


def main() -> None:
    rows = examples()
    TRAIN_CSV.write_text(render_csv(rows), encoding="utf-8")
    NLU_YML.write_text(render_nlu_yml(rows), encoding="utf-8")
    print(f"{len(rows)} examples -> {TRAIN_CSV.name}, {NLU_YML.name}")


if __name__ == "__main__":
    main()
