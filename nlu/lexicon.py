"""What short replies mean, per language: the words people actually text back.

Entries are written naturally (accents, scripts, apostrophes) and folded once at import
with the same `fold` used on replies, so unaccented and accented spellings meet. A
trailing `*` makes an entry a word stem ("unsubscrib*" matches "unsubscribed").
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from functools import lru_cache

from nlu.normalise import light_tokens, tokens

LANGUAGES = ("en", "sw", "fr", "vi", "hi", "bn", "ne", "ny", "ha", "ar", "kam", "yo")

# Replies that are nothing but a keyword: decided before any poll logic (DESIGN: keywords
# win over everything). Kept apart from the looser phrases below on purpose: "acha" alone
# is STOP, but "acha kunitumia" is a sentence that the interpreter judges.
KEYWORDS: dict[str, tuple[str, ...]] = {
    "stop": (
        "stop", "stopall", "stop all", "unsubscribe", "cancel", "end", "quit", "opt out",
        "optout", "acha", "simamisha", "sitisha", "dừng", "dung lai", "dừng lại", "huỷ", "hủy",
        "arrêt", "arrêter", "arrete", "stoppe", "désabonner", "बंद", "रोको", "रोक", "রোক",
        "থামুন", "থামো", "বন্ধ", "बन्द", "रोक्नुहोस्", "leka", "siyani", "lekani", "daina",
        "tsaya", "توقف", "الغاء", "إلغاء", "قف", "duro", "ũmĩa",
    ),
    "start": (
        "start", "join", "subscribe", "unstop", "resume", "jiunge", "anza", "tham gia",
        "bắt đầu", "dang ky", "đăng ký", "rejoindre", "commencer", "démarrer", "inscrire",
        "जुड़ें", "जुडें", "शुरू", "शुरु", "যোগ দিন", "যোগদান", "শুরু", "सुरु", "सामेल",
        "lowani", "yambani", "shiga", "fara", "اشتراك", "انضم", "bere",
        "dárapọ̀", "ĩyũnge",
    ),
    "help": (
        "help", "info", "information", "msaada", "usaidizi", "giúp", "giup do", "giúp đỡ",
        "trợ giúp", "aide", "aidez moi", "मदद", "सहायता", "সাহায্য", "সহায়তা", "सहयोग",
        "मद्दत", "thandizo", "taimako", "مساعدة", "مساعده", "ìrànlọ́wọ́", "ũtethyo",
    ),
}

# Looser phrases: matched anywhere in a reply (stop and help) or at its start (affirm,
# deny). Stop phrases include a wish to stop ("sitaki ujumbe"), which the engine confirms.
PHRASES: dict[str, dict[str, tuple[str, ...]]] = {
    "en": {
        "affirm": ("yes", "yeah", "yea", "yep", "yup", "ya", "y", "ok", "okay", "sure",
                   "of course", "correct", "right", "true", "indeed", "agree", "i agree",
                   "absolutely", "affirmative", "yes please", "definitely", "fine"),
        "deny": ("no", "nope", "nah", "n", "not", "never", "not really", "no way", "negative",
                 "false", "wrong", "disagree", "not at all", "didnt", "havent", "not yet"),
        "stop": ("stop", "unsubscrib*", "opt out", "optout", "stop sending", "no more messages",
                 "no more sms", "dont send", "dont want messages", "dont want any messages",
                 "dont want sms", "dont message", "leave me alone", "remove me", "stop messaging",
                 "stop texting", "do not send", "do not contact", "take me off"),
        "start": ("join", "start", "subscribe", "sign me up", "i want to join"),
        "help": ("help", "need help", "help me", "assist*", "support", "info"),
    },
    "sw": {
        "affirm": ("ndiyo", "ndio", "ndiyo ndiyo", "ndyo", "ndiooo", "eeh", "ee", "eee", "eeeh",
                   "naam", "sawa", "sawasawa", "kweli", "hakika", "bila shaka", "ndivyo"),
        "deny": ("hapana", "hapna", "hakuna", "la", "sio", "siyo", "bado", "hata", "hatujapata",
                 "sijapokea", "sija*", "haija*"),
        "stop": ("acha", "simamisha", "sitisha", "usinitumie", "msinitumie", "sitaki ujumbe",
                 "sitaki jumbe", "sitaki sms", "acheni", "acha kunitumia", "sitaki tena",
                 "ondoa", "niondoe", "niondoeni"),
        "start": ("jiunge", "jiunga", "nataka kujiunga", "anza", "anzisha", "kujiunga"),
        "help": ("msaada", "nisaidie", "nisaidieni", "saidia", "saidieni", "usaidizi",
                 "naomba msaada", "nahitaji msaada"),
    },
    "fr": {
        "affirm": ("oui", "ouais", "ouii", "bien sur", "d'accord", "dacc", "daccord", "ok",
                   "exactement", "absolument", "certainement", "tout a fait", "voila",
                   "c'est ça", "bien entendu", "vrai", "evidemment"),
        "deny": ("non", "nan", "jamais", "pas du tout", "pas encore", "aucun", "aucune",
                 "pas vraiment", "non merci", "faux", "rien"),
        "stop": ("arrête", "arrêtez", "arrete", "arreter", "stop", "stoppe", "désabonn*",
                 "ne veux plus", "veux plus", "plus de messages", "plus de sms",
                 "ne m'envoyez plus", "m'envoyez plus", "cessez", "desinscri*", "désinscri*"),
        "start": ("rejoindre", "commencer", "inscrire", "je veux participer", "adherer"),
        "help": ("aide", "aidez", "aide moi", "aidez moi", "au secours", "besoin d'aide",
                 "assistance", "secours"),
    },
    "vi": {
        "affirm": ("có", "co", "vâng", "vang", "dạ", "da", "ừ", "u", "uh", "ừm", "um", "đúng",
                   "dung roi", "đúng rồi", "được", "duoc", "ok", "đồng ý", "dong y", "rồi",
                   "có chứ", "vâng ạ", "dạ vâng", "chắc chắn", "phải"),
        "deny": ("không", "khong", "ko", "k", "hông", "hong", "chưa", "chua", "không phải",
                 "không đâu", "không có", "chẳng", "chả", "đâu có", "khg", "kg"),
        "stop": ("dừng", "dừng lại", "ngừng", "ngung", "hủy", "huỷ", "huy",
                 "không muốn nhận", "khong muon nhan", "đừng gửi", "dung gui", "ngừng gửi",
                 "thôi gửi", "không nhận tin", "hủy đăng ký"),
        "start": ("tham gia", "bắt đầu", "đăng ký", "dang ky"),
        "help": ("giúp", "giup", "giúp đỡ", "trợ giúp", "hỗ trợ", "ho tro", "cứu", "giúp với",
                 "cần giúp"),
    },
    "hi": {
        "affirm": ("हाँ", "हां", "हा", "हाँ जी", "जी", "जी हाँ", "जी हां", "ठीक है", "हाँ हाँ",
                   "बिल्कुल", "सही", "haan", "han", "haa", "ha", "haanji", "haan ji", "ji",
                   "ji haan", "theek hai", "thik hai", "bilkul", "sahi", "achha", "accha"),
        "deny": ("नहीं", "नही", "ना", "नहीं जी", "जी नहीं", "बिल्कुल नहीं", "nahi", "nahin", "nhi",
                 "nahi ji", "ji nahi", "na", "mat"),
        "stop": ("बंद", "बन्द कीजिए", "बंद करो", "बंद कीजिए", "बंद कर दो", "रोको", "रोकें",
                 "मत भेजो", "मत भेजिए", "संदेश नहीं चाहिए", "band karo", "band", "mat bhejo",
                 "रोक", "rok do"),
        "start": ("जुड़ें", "जुड़ना", "शुरू", "शुरू करो", "shuru", "judna"),
        "help": ("मदद", "सहायता", "मदद करो", "मदद चाहिए", "सहायता चाहिए", "madad", "sahayata"),
    },
    "bn": {
        "affirm": ("হ্যাঁ", "হ্যা", "হাঁ", "হা", "হুম", "জি", "জ্বি", "জী", "জ্বী", "জি হ্যাঁ",
                   "ঠিক আছে", "ঠিক", "অবশ্যই", "হ্যাঁ হ্যাঁ", "hya", "hyan", "ji", "thik ache",
                   "ha", "haa"),
        "deny": ("না", "নাহ", "জি না", "জ্বি না", "না না", "কখনো না", "একদম না", "নেই", "পাইনি",
                 "na", "naa", "ji na"),
        "stop": ("বন্ধ", "বন্ধ করুন", "বন্ধ করো", "বন্ধ করে দিন", "থামুন", "থামো", "পাঠাবেন না",
                 "আর পাঠাবেন না", "পাঠাবেন না", "আর পাঠাবে না", "পাঠিও না", "চাই না মেসেজ",
                 "bondho"),
        "start": ("শুরু", "যোগ দিন", "যোগদান", "যোগ দিতে চাই"),
        "help": ("সাহায্য", "সাহায্য দরকার", "সাহায্য করুন", "সহায়তা", "সাহায্য চাই",
                 "shahajjo", "sahajjo"),
    },
    "ne": {
        "affirm": ("हो", "हजुर", "हो हजुर", "हस्", "हुन्छ", "ठिक छ", "ठीक छ", "हो हो", "पाएँ",
                   "ho", "hajur", "ho hajur", "huncha", "hunchha", "thik cha", "has"),
        "deny": ("होइन", "हैन", "होइन होइन", "छैन", "होइन हजुर", "पाइनँ", "पाइन", "hoina",
                 "haina", "chaina", "hoina hajur"),
        "stop": ("बन्द", "बन्द गर", "बन्द गर्नुहोस्", "रोक्नुहोस्", "नपठाउनुहोस्", "नपठाउ*",
                 "नपठाऊ", "band gara", "napathau*"),
        "start": ("सुरु", "सामेल", "सुरु गर्नुहोस्", "सामेल हुन"),
        "help": ("मद्दत", "सहयोग", "सहयोग चाहियो", "मद्दत गर्नुहोस्", "मद्दत चाहियो", "sahayog",
                 "maddat"),
    },
    "ny": {
        "affirm": ("inde", "eya", "eyaa", "ee", "eee", "chabwino", "zoona", "inde ndithu",
                   "ndithu", "ndavomera", "ndalandira"),
        "deny": ("ayi", "ayii", "iyayi", "ayi ndithu", "sindinalandire", "sindina*", "ai",
                 "palibe", "ayi zikomo"),
        "stop": ("leka", "lekani", "siyani", "siya", "kuleka", "musanditumizire", "siyani chonde",
                 "sindikufuna mauthenga", "sindikufunanso"),
        "start": ("lowani", "yambani", "lembetsani", "kulowa", "ndikufuna kulowa"),
        "help": ("thandizo", "thandiz*", "ndithandizeni", "ndithandize", "kuthandizidwa"),
    },
    "ha": {
        "affirm": ("eh", "ee", "eee", "na'am", "naam", "haka ne", "hakane", "tabbas",
                   "gaskiya", "to", "toh", "yauwa", "yawwa", "ee na samu", "na samu"),
        "deny": ("a'a", "aa", "a a", "babu", "ban samu ba", "ko kadan", "a'a ko kaɗan", "ba haka",
                 "ba haka ba", "a'a a'a"),
        "stop": ("daina", "ku daina", "ku tsaya", "tsaya", "tsayar", "dakata", "ku dakata",
                 "bana so", "ban so sakonni"),
        "start": ("shiga", "fara", "ina so in shiga"),
        "help": ("taimako", "taimaka", "taimake ni", "ku taimaka", "ina son taimako",
                 "agaji", "taimakon"),
    },
    "ar": {
        "affirm": ("نعم", "ايوه", "ايوا", "اه", "آه", "اكيد", "أكيد", "طبعا", "صح", "صحيح",
                   "تمام", "موافق", "اي", "إي", "بلى", "اجل", "أجل", "اه والله", "naam", "aywa",
                   "ah"),
        "deny": ("لا", "كلا", "لأ", "ابدا", "أبدا", "مش", "ما وصل*", "ما وصلني", "لم", "ليس",
                 "لا لا", "مو", "la", "laa", "mish"),
        "stop": ("توقف", "توقفوا", "وقف", "أوقف", "اوقفوا", "الغاء", "إلغاء", "ما بدي رسائل",
                 "لا اريد رسائل", "لا أريد رسائل", "لا ترسل", "لا ترسلوا", "بطلوا", "كفى",
                 "ما بدي رساي*", "ما بدي"),
        "start": ("ابدا الاشتراك", "اشترك", "اشتراك", "انضم"),
        "help": ("مساعدة", "مساعده", "ساعدوني", "ساعدني", "مساعد*", "النجدة", "محتاج مساعدة"),
    },
    "kam": {
        "affirm": ("ii", "iii", "ĩĩ", "ĩĩ", "nĩ w'o", "ni wo", "nii", "ee"),
        "deny": ("aiee", "aie", "aaii", "ai", "ti w'o", "ti wo", "nda"),
        "stop": ("umia", "ũmĩa", "lekai", "eka", "ekai", "ndikwenda mavoa"),
        "start": ("iyunge", "ĩyũnge", "ambiia", "ambĩĩa"),
        "help": ("utethyo", "ũtethyo", "ntethya", "tethya", "ndethya"),
    },
    "yo": {
        "affirm": ("bẹ́ẹ̀ni", "beeni", "beeni o", "bẹẹni", "ohun", "ó dáa", "o daa", "o dara",
                   "bẹ́ẹ̀ ni", "beeni sa", "ooto"),
        "deny": ("rárá", "rara", "rara o", "ko", "bẹ́ẹ̀ kọ́", "beeko", "bee ko"),
        "stop": ("dúró", "duro", "da duro", "ma fi ranse mo", "mo fe duro"),
        "start": ("dárapọ̀", "darapo", "bere"),
        "help": ("ìrànlọ́wọ́", "iranlowo", "ran mi lowo", "e ran mi lowo"),
    },
}

# Frequent non-intent words: evidence for language identification only.
COMMON_WORDS: dict[str, tuple[str, ...]] = {
    "en": ("the", "i", "we", "you", "it", "is", "are", "was", "have", "has", "and", "of", "to",
           "in", "my", "me", "please", "sir", "madam", "thanks", "thank", "planted", "trees",
           "tree", "received", "message", "messages", "sending", "this", "that", "today",
           "our", "group", "water", "want", "any", "more", "did", "do", "got", "it", "am",
           "need", "one", "two", "three", "twenty", "hundred", "seedlings", "with", "for",
           "school", "not", "they", "send", "what", "how", "there", "yet", "can"),
    "sw": ("na", "ya", "wa", "za", "kwa", "ni", "bwana", "tafadhali", "leo", "sisi", "mimi",
           "tumepanda", "miche", "miti", "ujumbe", "nimepokea", "sijapokea", "chochote", "sasa",
           "tena", "kabisa", "asante", "sana", "kisima", "maji", "sitaki", "nataka", "wiki",
           "hii", "kikundi", "shule", "habari", "mama", "kumi", "mia", "moja", "mbili", "tatu",
           "tano", "elfu", "ishirini", "nane", "tumepokea", "hatujapokea", "bado", "pia"),
    "fr": ("je", "tu", "nous", "vous", "le", "la", "les", "de", "des", "du", "et", "est",
           "pas", "ne", "monsieur", "madame", "merci", "avons", "planté", "arbres", "reçu",
           "recu", "nai", "jai", "messages", "tout", "svp", "sil", "vous", "plait", "moi",
           "aujourdhui", "cette", "semaine", "notre", "groupe", "bien", "sûr", "veux", "plus",
           "trois", "cents", "vingt", "dix", "avec", "mais", "il", "elle", "on", "en", "un"),
    "vi": ("tôi", "toi", "chúng", "chung", "đã", "da", "nhận", "nhan", "được", "duoc", "tin",
           "nữa", "nua", "muốn", "muon", "gửi", "gui", "với", "voi", "cần", "can", "trồng",
           "trong", "cây", "cay", "trăm", "tram", "mươi", "muoi", "chứ", "chu", "ạ", "a", "phải",
           "phai", "đâu", "dau", "chưa", "nhắn", "nhan", "anh", "chị", "chi", "em", "cảm",
           "ơn", "cam", "on", "của", "cua", "và", "va", "là", "la", "này", "nay", "hôm",
           "hom", "bạn", "ban", "rồi", "roi", "mình", "minh", "nhóm", "nhom"),
    "hi": ("है", "हैं", "मुझे", "मैं", "हम", "हमने", "मिला", "मिल", "गया", "कर", "दो", "करो",
           "कीजिए", "चाहिए", "पेड़", "लगाए", "का", "की", "के", "में", "और", "यह", "वह", "नहीं",
           "आप", "संदेश", "मैसेज", "कृपया", "धन्यवाद", "तीन", "सौ", "mujhe", "hai", "mila",
           "kya", "aap", "ke", "ki", "hum", "kripya", "dhanyavad"),
    "bn": ("আমি", "আমরা", "পেয়েছি", "পেয়েছি", "পাইনি", "করে", "দিন", "করুন", "আর", "দরকার",
           "একটু", "গাছ", "লাগিয়েছি", "লাগিয়েছি", "তিনশো", "এবং", "আপনি", "মেসেজ", "বার্তা",
           "ধন্যবাদ", "এই", "কি", "কী", "ও", "আমার", "না"),
    "ne": ("मैले", "हामीले", "पाएँ", "पाइनँ", "गर", "गर्नुहोस्", "अब", "सन्देश", "चाहियो", "रूख",
           "रोप्यौँ", "रोप्यौं", "तिन", "सय", "छ", "छैन", "हजुर", "तपाईं", "म", "हामी", "धन्यवाद",
           "कृपया", "को", "मा", "र", "पनि", "mailey", "maile", "hami", "cha", "garnu"),
    "ny": ("ndi", "ndikufuna", "uthenga", "mauthenga", "chonde", "zikomo", "kwambiri", "ife",
           "ine", "tabzala", "mitengo", "mtengo", "lero", "sabata", "ino", "makumi", "awiri",
           "ziwiri", "zinayi", "zisanu", "zitatu", "ndalandira", "sindinalandire", "kuleka",
           "madzi", "gulu", "sukulu", "ku", "kwa", "wa", "la", "koma", "bwanji"),
    "ha": ("na", "ina", "son", "ku", "don", "allah", "ban", "ba", "samu", "mun", "dasa",
           "itatuwa", "itace", "bishiyoyi", "gode", "nagode", "yau", "sako", "sakon", "ko",
           "kadan", "da", "sha", "goma", "biyu", "uku", "dari", "ashirin", "kuma", "mu", "ni",
           "muna", "wannan", "ruwa", "makaranta"),
    "ar": ("في", "من", "على", "انا", "احنا", "نحن", "والله", "وصلتني", "الرسالة", "الرساله",
           "رسائل", "رسالة", "شي", "بدي", "محتاج", "زرعنا", "شجرة", "شجره", "شجر", "اليوم",
           "شكرا", "لو", "سمحت", "هذا", "هذه", "ما", "يا", "الى", "عن", "مع"),
    "kam": ("ni", "nĩ", "ndi", "ndũ", "mũndũ", "miti", "yĩana", "ĩkũmi", "mĩongo", "ũmũnthĩ",
            "twavanda", "kĩkundi", "ngũ", "nĩ wega", "wega", "nesa", "nakwa", "ndumĩa",
            "ũvoo", "mavoa", "ĩla", "ũu", "nĩtwavanda"),
    "yo": ("o", "jọ̀ọ́", "jowo", "ẹ", "mo", "ni", "igi", "a", "gbin", "ti", "e", "se", "ẹ ṣé",
           "eku", "owo", "omi", "ọjọ", "oni", "wa", "emi"),
}


# A wish to stop in free words: a negated "want"/"send" plus a word for messages
# ("I don't want these messages", "sitaki ujumbe wenu", "لا أريد رسائل").
NEGATED_WANT = frozenset(
    " ".join(tokens(w))
    for w in (
        "dont", "don't", "do not", "stop", "sitaki", "usinitumie", "msinitumie", "ne", "plus",
        "không", "đừng", "chẳng", "मत", "नहीं", "না", "नपठाउनुहोस्", "sindikufuna", "lekani",
        "bana", "daina", "لا", "ما", "بدي", "ku daina", "kunditumizira", "turo",
    )
)
MESSAGE_WORDS = frozenset(
    " ".join(tokens(w))
    for w in (
        "messages", "message", "sms", "texts", "ujumbe", "jumbe", "tin",
        "संदेश", "मैसेज", "মেসেজ", "বার্তা", "सन्देश", "uthenga", "mauthenga", "sako", "sakonni",
        "رسائل", "رسالة", "رساله", "مسجات",
    )
)


def wishes_to_stop(words: tuple[str, ...]) -> bool:
    """A negated want/send next to a word for messages, anywhere in the reply."""
    return any(w in MESSAGE_WORDS for w in words) and any(w in NEGATED_WANT for w in words)


@dataclass(frozen=True)
class Match:
    """A lexicon phrase found in a reply: where, how long, and what it says."""

    start: int
    length: int
    language: str
    intent: str


def _phrase(text: str) -> tuple[str, ...]:
    return tokens(text.rstrip("*"))


def _build() -> tuple[dict, dict, dict, dict, dict]:
    # first token -> [(phrase, language, intent)], longest phrases first
    phrases: dict[str, list[tuple[tuple[str, ...], str, str]]] = defaultdict(list)
    # folded phrase -> {accented spelling: intent}, to tell "đúng" (right) from "dừng" (stop)
    spellings: dict[tuple[str, ...], dict[tuple[str, ...], set[str]]] = defaultdict(
        lambda: defaultdict(set)
    )
    stems: dict[str, list[tuple[str, str]]] = defaultdict(list)
    keywords: dict[str, str] = {}
    vocabulary: dict[str, set[str]] = defaultdict(set)
    for intent, entries in KEYWORDS.items():
        for entry in entries:
            keywords[" ".join(light_tokens(entry))] = intent
            keywords.setdefault(" ".join(_phrase(entry)), intent)
    for language, by_intent in PHRASES.items():
        for intent, entries in by_intent.items():
            for entry in entries:
                words = _phrase(entry)
                if not words:
                    continue
                for word in words:
                    vocabulary[word].add(language)
                if entry.endswith("*") and len(words) == 1:
                    if (language, intent) not in stems[words[0]]:
                        stems[words[0]].append((language, intent))
                    continue
                spellings[words][light_tokens(entry)].add(intent)
                if (words, language, intent) not in phrases[words[0]]:
                    phrases[words[0]].append((words, language, intent))
    for language, entries in COMMON_WORDS.items():
        for entry in entries:
            for word in _phrase(entry):
                vocabulary[word].add(language)
    for candidates in phrases.values():
        candidates.sort(key=lambda item: -len(item[0]))
    ambiguous = {}
    for words, by_spelling in spellings.items():
        intents = set().union(*by_spelling.values())
        if len(intents) > 1:
            ambiguous[words] = {light: frozenset(i) for light, i in by_spelling.items()}
    vocab = {w: frozenset(s) for w, s in vocabulary.items()}
    return dict(phrases), dict(stems), keywords, vocab, ambiguous


_PHRASES, _STEMS, _KEYWORDS, _VOCABULARY, _AMBIGUOUS = _build()
_MIN_STEM = min((len(s) for s in _STEMS), default=3)


def add_vocabulary(language: str, words: tuple[str, ...] | list[str]) -> None:
    """Let other modules (number words) count as language evidence."""
    for word in words:
        for token in tokens(word):
            _VOCABULARY[token] = _VOCABULARY.get(token, frozenset()) | {language}
    word_languages.cache_clear()


def keyword_intent(text: str) -> str | None:
    """"stop", "start" or "help" when the whole reply is one keyword, else None."""
    if not isinstance(text, str) or len(text) > 60:
        return None
    exact = _KEYWORDS.get(" ".join(light_tokens(text)))
    if exact is not None:
        return exact
    words = tokens(text)
    if words in _AMBIGUOUS:
        # "Đúng" folds to the same letters as "dừng": without its own accents it is no keyword.
        return None
    return _KEYWORDS.get(" ".join(words))


@lru_cache(maxsize=65536)
def _stem_matches(token: str) -> tuple[tuple[str, str], ...]:
    found: list[tuple[str, str]] = []
    for end in range(_MIN_STEM, len(token) + 1):
        found.extend(_STEMS.get(token[:end], ()))
    return tuple(found)


def _resolve(words: tuple[str, ...], light: tuple[str, ...], intent: str) -> bool:
    """Whether an accent-ambiguous phrase really means `intent` as it was typed."""
    spelled = _AMBIGUOUS[words]
    if light in spelled:
        return intent in spelled[light]
    # Typed without accents: never read it as a STOP, which would end the participation.
    return intent != "stop"


@lru_cache(maxsize=65536)
def find_phrases(text: str) -> tuple[Match, ...]:
    """Every lexicon phrase in the reply, longest first at each position (no overlap)."""
    words = tokens(text)
    light = light_tokens(text)
    aligned = len(light) == len(words)
    found: list[Match] = []
    i = 0
    n = len(words)
    while i < n:
        step = 1
        longest = 0
        for phrase, language, intent in _PHRASES.get(words[i], ()):
            size = len(phrase)
            if size < longest:
                break
            if words[i : i + size] == phrase:
                if (
                    aligned
                    and phrase in _AMBIGUOUS
                    and not _resolve(phrase, light[i : i + size], intent)
                ):
                    continue
                longest = size
                found.append(Match(i, size, language, intent))
        if longest:
            step = longest
        else:
            for language, intent in _stem_matches(words[i]):
                found.append(Match(i, 1, language, intent))
        i += step
    return tuple(found)


@lru_cache(maxsize=65536)
def word_languages(word: str) -> frozenset[str]:
    """Languages whose lexicon has this folded word."""
    return _VOCABULARY.get(word, frozenset())


@lru_cache(maxsize=65536)
def stem_languages(word: str) -> frozenset[str]:
    """Languages with a lexicon stem that begins this word ("thandizani" -> ny)."""
    return frozenset(language for language, _ in _stem_matches(word))
