"""The six pseudo-languages of the demo world: script, phonotactics, morphology, word order.

Each is loosely modelled on the real language it is named after (so the outputs look
plausible), but every content word is coined from the seed: these are NOT the real
languages. Function words and affixes are fixed per language; typology:

    en  SVO, Adj-N, article, -s plural/3sg, -ed past, do-support negation
    es  SVO, N-Adj, gendered article and agreement (-o/-a/-s), tense suffixes
    fr  SVO, N-Adj, gender, ne ... pas negation, auxiliary past
    ru  SOV, Adj-N, no article, accusative case on objects, future auxiliary
    ar  VSO, N-Adj, definite prefix on nouns and adjectives, prefix/suffix conjugation
    zh  SVO, Adj-de-N, no inflection, aspect particles, pre-verbal location, no spaces

Over 400 lines on purpose: six short grammars side by side, compared best in one file
against the table above.
"""
from __future__ import annotations

from lmvsmt.demo.grammar import Grammar, Lexeme, coin_syllables
from lmvsmt.demo.meaning import Token


def _tok(form: str, upos: str) -> Token:
    return Token(form, upos)


class English(Grammar):
    name = "en"
    location_adp = "in"
    function_words = {"the": "DET", "is": "AUX", "are": "AUX", "was": "AUX", "were": "AUX",
                      "will": "AUX", "be": "AUX", "do": "AUX", "does": "AUX", "did": "AUX",
                      "not": "PART", "very": "ADV", "in": "ADP", ".": "PUNCT"}
    ONSETS = "b c d f g h j k l m n p r s t v w z bl br cl cr dr fl fr gl gr pl pr sk sl sp st tr sh ch th".split()
    NUCLEI = "a e i o u a e i o u ea ee oo ai oa ou".split()
    CODAS = ["", "", "b", "d", "g", "k", "l", "m", "n", "p", "r", "t", "x", "ck", "ft", "lt", "mp",
             "nd", "ng", "nk", "rk", "rn", "sh", "st", "th"]

    def coin(self, rng, upos, kind=None):
        n = rng.choice((1, 1, 2)) if upos in ("VERB", "ADJ") else rng.choice((1, 2, 2))
        codas = self.CODAS[2:] if upos == "VERB" else self.CODAS
        return Lexeme(coin_syllables(rng, n, self.ONSETS, self.NUCLEI, codas))

    @staticmethod
    def _s(stem: str) -> str:
        return stem + ("es" if stem.endswith(("s", "x", "sh", "ch", "z")) else "s")

    @staticmethod
    def _ed(stem: str) -> str:
        return stem + ("d" if stem.endswith("e") else "ed")

    def inflections(self, upos, lex):
        s = lex.stem
        return {"NOUN": {s, self._s(s)}, "VERB": {s, self._s(s), self._ed(s)}, "ADJ": {s},
                "ADV": {self.adverb(lex)}, "PROPN": {self.designator(lex)}}[upos]

    def adverb(self, lex):
        return lex.stem + "ly"

    def noun_phrase(self, noun, adjective, plural, role):
        out = [_tok("the", "DET")]
        if adjective is not None:
            out.append(_tok(adjective.stem, "ADJ"))
        return out + [_tok(self._s(noun.stem) if plural else noun.stem, "NOUN")]

    def verb_group(self, verb, tense, negated, plural, gender):
        s = verb.stem
        if tense == "future":
            return [_tok("will", "AUX")] + ([_tok("not", "PART")] if negated else []) + [_tok(s, "VERB")]
        if negated:
            aux = "did" if tense == "past" else ("do" if plural else "does")
            return [_tok(aux, "AUX"), _tok("not", "PART"), _tok(s, "VERB")]
        form = self._ed(s) if tense == "past" else (s if plural else self._s(s))
        return [_tok(form, "VERB")]

    def predicate(self, adjective, tense, negated, intensified, plural, gender):
        copula = {"present": ["are" if plural else "is"], "past": ["were" if plural else "was"],
                  "future": ["will", "be"]}[tense]
        out = [_tok(c, "AUX") for c in copula]
        if negated:
            out.insert(1, _tok("not", "PART"))
        if intensified:
            out.append(_tok("very", "ADV"))
        return [], out + [_tok(adjective.stem, "ADJ")]

    def transliterate(self, phonemes):
        spelled = phonemes[:-1] + "y" if phonemes.endswith("i") else phonemes
        return spelled.capitalize()


def _romance_spelling(phonemes: str, spell: dict[str, str]) -> str:
    """k/g spelled as in Spanish and French (c/qu, g/gu before front vowels), other
    phonemes through `spell`."""
    out = []
    for i, ch in enumerate(phonemes):
        front = i + 1 < len(phonemes) and phonemes[i + 1] in "ei"
        if ch == "k":
            out.append("qu" if front else "c")
        elif ch == "g":
            out.append("gu" if front else "g")
        else:
            out.append(spell.get(ch, ch))
    return "".join(out)


class Spanish(Grammar):
    name = "es"
    adverb_position = "postverbal"
    designator_first = True
    location_adp = "en"
    function_words = {"el": "DET", "la": "DET", "los": "DET", "las": "DET", "es": "AUX", "son": "AUX",
                      "fue": "AUX", "fueron": "AUX", "será": "AUX", "serán": "AUX", "no": "ADV",
                      "muy": "ADV", "en": "ADP", ".": "PUNCT"}
    ONSETS = "b c d f g j l m n p r s t v ch ll br bl cr cl dr fr gr pl pr tr".split()
    NUCLEI = "a e i o u a e o ia ie ue io".split()
    STEM_ENDS = "b d l m n r s t v ch ll rr nd rt st nt".split()
    ARTICLES = {("m", False): "el", ("f", False): "la", ("m", True): "los", ("f", True): "las"}

    def coin(self, rng, upos, kind=None):
        n = rng.choice((1, 2, 2)) if upos != "VERB" else rng.choice((1, 1, 2))
        stem = coin_syllables(rng, n, self.ONSETS, self.NUCLEI, self.STEM_ENDS)
        return Lexeme(stem, rng.choice("mf"))

    @staticmethod
    def _agree(stem: str, gender: str, plural: bool) -> str:
        return stem + ("o" if gender == "m" else "a") + ("s" if plural else "")

    _VERB = {("present", False): "a", ("present", True): "an", ("past", False): "ó",
             ("past", True): "aron", ("future", False): "ará", ("future", True): "arán"}

    def inflections(self, upos, lex):
        s = lex.stem
        if upos == "NOUN":
            return {self._agree(s, lex.gender, p) for p in (False, True)}
        if upos == "ADJ":
            return {self._agree(s, g, p) for g in "mf" for p in (False, True)}
        if upos == "VERB":
            return {s + ending for ending in self._VERB.values()}
        return {self.adverb(lex)} if upos == "ADV" else {self.designator(lex)}

    def adverb(self, lex):
        return lex.stem + "amente"

    def designator(self, lex):
        return self._agree(lex.stem, lex.gender, False).capitalize()

    def noun_phrase(self, noun, adjective, plural, role):
        out = [_tok(self.ARTICLES[noun.gender, plural], "DET"),
               _tok(self._agree(noun.stem, noun.gender, plural), "NOUN")]
        if adjective is not None:
            out.append(_tok(self._agree(adjective.stem, noun.gender, plural), "ADJ"))
        return out

    def verb_group(self, verb, tense, negated, plural, gender):
        return ([_tok("no", "ADV")] if negated else []) + [_tok(verb.stem + self._VERB[tense, plural], "VERB")]

    def predicate(self, adjective, tense, negated, intensified, plural, gender):
        copula = {"present": ("es", "son"), "past": ("fue", "fueron"), "future": ("será", "serán")}[tense]
        out = ([_tok("no", "ADV")] if negated else []) + [_tok(copula[plural], "AUX")]
        if intensified:
            out.append(_tok("muy", "ADV"))
        return [], out + [_tok(self._agree(adjective.stem, gender, plural), "ADJ")]

    def transliterate(self, phonemes):
        return _romance_spelling(phonemes, {"h": "j"}).capitalize()


class French(Grammar):
    name = "fr"
    adverb_position = "postverbal"
    designator_first = True
    location_adp = "à"
    function_words = {"le": "DET", "la": "DET", "les": "DET", "est": "AUX", "sont": "AUX",
                      "était": "AUX", "étaient": "AUX", "sera": "AUX", "seront": "AUX", "a": "AUX",
                      "ont": "AUX", "ne": "ADV", "n'": "ADV", "pas": "ADV", "très": "ADV", "à": "ADP",
                      ".": "PUNCT"}
    ONSETS = "b c d f g j l m n p r s t v ch br cr dr fr gr pl tr".split()
    NUCLEI = "a e i o ou eu ai au oi é".split()
    CODAS = ["", "", "n", "r", "l", "t", "c"]
    STEM_ENDS = "d l n r t nd rt nt st".split()
    _VERB = {("present", False): "e", ("present", True): "ent", ("future", False): "era",
             ("future", True): "eront", ("participle", False): "é"}

    def coin(self, rng, upos, kind=None):
        n = rng.choice((1, 2, 2))
        ends = self.CODAS if upos in ("NOUN", "PROPN") else self.STEM_ENDS
        return Lexeme(coin_syllables(rng, n, self.ONSETS, self.NUCLEI, ends), rng.choice("mf"))

    @staticmethod
    def _plural(form: str) -> str:
        if form.endswith(("s", "x")):
            return form
        return form + ("x" if form.endswith(("au", "eu")) else "s")

    def _adjective(self, stem: str, gender: str, plural: bool) -> str:
        form = stem + ("e" if gender == "f" and not stem.endswith("e") else "")
        return self._plural(form) if plural else form

    def inflections(self, upos, lex):
        s = lex.stem
        if upos == "NOUN":
            return {s, self._plural(s)}
        if upos == "ADJ":
            return {self._adjective(s, g, p) for g in "mf" for p in (False, True)}
        if upos == "VERB":
            return {s + ending for ending in self._VERB.values()}
        return {self.adverb(lex)} if upos == "ADV" else {self.designator(lex)}

    def adverb(self, lex):
        return lex.stem + "ement"

    def noun_phrase(self, noun, adjective, plural, role):
        article = "les" if plural else ("le" if noun.gender == "m" else "la")
        out = [_tok(article, "DET"), _tok(self._plural(noun.stem) if plural else noun.stem, "NOUN")]
        if adjective is not None:
            out.append(_tok(self._adjective(adjective.stem, noun.gender, plural), "ADJ"))
        return out

    def verb_group(self, verb, tense, negated, plural, gender):
        if tense == "past":
            finite = [_tok("ont" if plural else "a", "AUX")]
            rest = [_tok(verb.stem + "é", "VERB")]
        else:
            finite, rest = [_tok(verb.stem + self._VERB[tense, plural], "VERB")], []
        if negated:
            finite = self._negate(finite)
        return finite + rest

    @staticmethod
    def _negate(finite: list[Token]) -> list[Token]:
        """ne ... pas around the finite verb, elided to n' before a vowel."""
        ne = "n'" if finite[0].form[0] in "aeiouéè" else "ne"
        return [_tok(ne, "ADV")] + finite + [_tok("pas", "ADV")]

    def predicate(self, adjective, tense, negated, intensified, plural, gender):
        copula = {"present": ("est", "sont"), "past": ("était", "étaient"), "future": ("sera", "seront")}[tense]
        out = [_tok(copula[plural], "AUX")]
        if negated:
            out = self._negate(out)
        if intensified:
            out.append(_tok("très", "ADV"))
        return [], out + [_tok(self._adjective(adjective.stem, gender, plural), "ADJ")]

    def transliterate(self, phonemes):
        spelled = _romance_spelling(phonemes, {"u": "ou"})
        if spelled.endswith("e"):
            spelled = spelled[:-1] + "é"
        elif spelled.endswith("o"):
            spelled = spelled[:-1] + "eau"
        return spelled.capitalize()


_CYRILLIC = dict(zip("ktpmnslrdbgvzhfaeiou", "ктпмнслрдбгвзхфаеиоу"))


class Russian(Grammar):
    name = "ru"
    order = "SOV"
    adverb_position = "preverbal"
    location_adp = "в"
    function_words = {"не": "PART", "очень": "ADV", "в": "ADP", "был": "AUX", "были": "AUX",
                      "будет": "AUX", "будут": "AUX", ".": "PUNCT"}
    ONSETS = "б в г д ж з к л м н п р с т ф х ч ш бр вр гр др кр пр тр ст ск сл см сн".split()
    NUCLEI = "а е и о у а о е я ю".split()
    FINALS = "б в г д з к л м н п р с т ф х ш".split()
    _VERB = {("present", False): "ет", ("present", True): "ют", ("past", False): "ал",
             ("past", True): "али", ("infinitive", False): "ать"}

    def coin(self, rng, upos, kind=None):
        n = rng.choice((1, 2, 2))
        return Lexeme(coin_syllables(rng, n, self.ONSETS, self.NUCLEI, self.FINALS))

    @staticmethod
    def _y(stem: str, ending: str) -> str:
        """Spelling rule: ы is written и after velars and hushers."""
        if ending.startswith("ы") and stem.endswith(tuple("кгхжшчщ")):
            ending = "и" + ending[1:]
        return stem + ending

    def _noun(self, stem: str, plural: bool, role: str) -> str:
        ending = {("subj", False): "", ("subj", True): "ы", ("obj", False): "а", ("obj", True): "ов"}
        return self._y(stem, ending[role, plural])

    def _adjective(self, stem: str, plural: bool, role: str) -> str:
        ending = {("subj", False): "ый", ("subj", True): "ые", ("obj", False): "ого", ("obj", True): "ых"}
        return self._y(stem, ending[role, plural])

    def inflections(self, upos, lex):
        s = lex.stem
        cases = [(r, p) for r in ("subj", "obj") for p in (False, True)]
        if upos == "NOUN":
            return {self._noun(s, p, r) for r, p in cases}
        if upos == "ADJ":
            return {self._adjective(s, p, r) for r, p in cases}
        if upos == "VERB":
            return {s + e for e in self._VERB.values()}
        return {self.adverb(lex)} if upos == "ADV" else {self.designator(lex)}

    def adverb(self, lex):
        return lex.stem + "о"

    def noun_phrase(self, noun, adjective, plural, role):
        out = [_tok(self._adjective(adjective.stem, plural, role), "ADJ")] if adjective is not None else []
        return out + [_tok(self._noun(noun.stem, plural, role), "NOUN")]

    def verb_group(self, verb, tense, negated, plural, gender):
        neg = [_tok("не", "PART")] if negated else []
        if tense == "future":
            return neg + [_tok("будут" if plural else "будет", "AUX"), _tok(verb.stem + "ать", "VERB")]
        return neg + [_tok(verb.stem + self._VERB[tense, plural], "VERB")]

    def predicate(self, adjective, tense, negated, intensified, plural, gender):
        out = [_tok("не", "PART")] if negated else []
        if tense == "past":
            out.append(_tok("были" if plural else "был", "AUX"))
        elif tense == "future":
            out.append(_tok("будут" if plural else "будет", "AUX"))
        if intensified:
            out.append(_tok("очень", "ADV"))
        return [], out + [_tok(self._adjective(adjective.stem, plural, "subj"), "ADJ")]

    def transliterate(self, phonemes):
        return "".join(_CYRILLIC[c] for c in phonemes).capitalize()


_ARABIC_CONSONANTS = "بتثجحخدذرزسشصضطظعغفقكلمنه"
_ARABIC_NAME = dict(zip("ktpmnslrdbgvzhf", "كتبمنسلردبغفزهف"))
_ARABIC_LONG = {"a": "ا", "i": "ي", "o": "و", "u": "و"}


class Arabic(Grammar):
    name = "ar"
    order = "VSO"
    designator_first = True
    cased = False
    location_adp = "في"
    function_words = {"في": "ADP", "لا": "PART", "لم": "PART", "لن": "PART", "ليس": "AUX",
                      "ليسوا": "AUX", "كان": "AUX", "كانوا": "AUX", "يكن": "AUX", "يكون": "AUX",
                      "يكونوا": "AUX", "سيكون": "AUX", "سيكونون": "AUX", "جدا": "ADV", ".": "PUNCT"}
    # C: a consonant, a/u/i: the long vowels alif, waw, ya (short vowels are not written)
    TEMPLATES = {"NOUN": ("CCaC", "CaCuC", "CCiC", "CaCiC", "CuCuC", "CCaCa"),
                 "ADJ": ("CaCiC", "CCiC", "CaCCi", "CaCuC"),
                 "VERB": ("CCC", "CaCC", "CCaC"),
                 "ADV": ("CaCiC", "CCiC", "CaCuC"),
                 "PROPN": ("CCaC", "CaCiC", "CuCaC")}
    DEF = "ال"

    def coin(self, rng, upos, kind=None):
        template = rng.choice(self.TEMPLATES[upos])
        stem = "".join(rng.choice(_ARABIC_CONSONANTS) if c == "C" else _ARABIC_LONG[c] for c in template)
        return Lexeme(stem)

    def _nominal(self, stem: str, plural_suffix: str, definite: bool, plural: bool) -> str:
        return (self.DEF if definite else "") + stem + (plural_suffix if plural else "")

    def inflections(self, upos, lex):
        s = lex.stem
        if upos in ("NOUN", "ADJ"):
            suffix = "ات" if upos == "NOUN" else "ون"
            return {self._nominal(s, suffix, d, p) for d in (False, True) for p in (False, True)}
        if upos == "VERB":
            return {s, s + "وا", "ي" + s, "ي" + s + "ون", "ي" + s + "وا", "سي" + s, "سي" + s + "ون"}
        return {self.adverb(lex)} if upos == "ADV" else {lex.stem}

    def adverb(self, lex):
        return lex.stem + "ا"

    def noun_phrase(self, noun, adjective, plural, role):
        out = [_tok(self._nominal(noun.stem, "ات", True, plural), "NOUN")]
        if adjective is not None:
            out.append(_tok(self._nominal(adjective.stem, "ون", True, plural), "ADJ"))
        return out

    def verb_group(self, verb, tense, negated, plural, gender):
        s = verb.stem
        if negated:  # negation particles govern the prefixed (imperfective) stem
            particle = {"present": "لا", "past": "لم", "future": "لن"}[tense]
            suffix = ("ون" if tense == "present" else "وا") if plural else ""
            return [_tok(particle, "PART"), _tok("ي" + s + suffix, "VERB")]
        form = {"present": "ي" + s + ("ون" if plural else ""), "past": s + ("وا" if plural else ""),
                "future": "سي" + s + ("ون" if plural else "")}[tense]
        return [_tok(form, "VERB")]

    def predicate(self, adjective, tense, negated, intensified, plural, gender):
        if tense == "present":
            before = [("ليسوا" if plural else "ليس", "AUX")] if negated else []
        elif tense == "past":
            before = [("لم", "PART"), ("يكونوا" if plural else "يكن", "AUX")] if negated else [
                ("كانوا" if plural else "كان", "AUX")]
        else:
            before = [("لن", "PART"), ("يكونوا" if plural else "يكون", "AUX")] if negated else [
                ("سيكونون" if plural else "سيكون", "AUX")]
        after = [_tok(self._nominal(adjective.stem, "ون", False, plural), "ADJ")]
        if intensified:
            after.append(_tok("جدا", "ADV"))
        return [_tok(f, u) for f, u in before], after

    def transliterate(self, phonemes):
        out = []
        for i, c in enumerate(phonemes):
            if c in _ARABIC_NAME:
                out.append(_ARABIC_NAME[c])
            elif c == "e":  # short e is unwritten, except word-finally
                out.append("ي" if i == len(phonemes) - 1 else "")
            else:
                out.append(_ARABIC_LONG[c])
        return "".join(out)


# Transliteration characters for names (as used for foreign names in Chinese), one per syllable.
_HAN_SYLLABLES = {
    "ka": "卡", "ke": "克", "ki": "基", "ko": "科", "ku": "库", "ta": "塔", "te": "特", "ti": "蒂",
    "to": "托", "tu": "图", "pa": "帕", "pe": "佩", "pi": "皮", "po": "波", "pu": "普", "ma": "玛",
    "me": "梅", "mi": "米", "mo": "莫", "mu": "穆", "na": "纳", "ne": "内", "ni": "尼", "no": "诺",
    "nu": "努", "sa": "萨", "se": "塞", "si": "西", "so": "索", "su": "苏", "la": "拉", "le": "莱",
    "li": "利", "lo": "洛", "lu": "卢", "ra": "腊", "re": "雷", "ri": "里", "ro": "罗", "ru": "鲁",
    "da": "达", "de": "德", "di": "迪", "do": "多", "du": "杜", "ba": "巴", "be": "贝", "bi": "比",
    "bo": "博", "bu": "布", "ga": "加", "ge": "格", "gi": "吉", "go": "戈", "gu": "古", "va": "瓦",
    "ve": "韦", "vi": "维", "vo": "沃", "vu": "武", "za": "扎", "ze": "泽", "zi": "齐", "zo": "佐",
    "zu": "祖", "ha": "哈", "he": "赫", "hi": "希", "ho": "霍", "hu": "胡", "fa": "法", "fe": "费",
    "fi": "菲", "fo": "福", "fu": "富", "n": "恩",
}
_HAN_FUNCTION = {"的": "PART", "了": "PART", "不": "ADV", "没": "ADV", "会": "AUX", "在": "ADP",
                 "很": "ADV", "非常": "ADV", "曾经": "ADV", "。": "PUNCT"}
_HAN_POOL = (
    "天地山水火木金土日月星风云雨雪花草树林石田米竹羊马牛鱼鸟虫衣食住行书画笔纸墨茶酒饭菜汤肉蛋果瓜豆"
    "麦车船桥路门窗房屋城村国家校院店厂场市街园河湖海江岸岛谷原野森岭峰泉池沟光电声色音味香气力心手足"
    "头口耳目眼身血骨皮毛发面容笑哭走跑跳飞坐立看听说读写想做买卖教学问答开关来去出入上下左右前后东南北"
    "中大小长短高低少新旧好坏美丑快慢冷热轻重明暗深浅远近早晚春夏秋冬红黄蓝绿白黑紫灰静动爱恨喜怒哀乐忙"
    "闲富贫强弱真假善恶正反同异难易安危亮净脏甜苦酸辣软硬干湿圆方直弯厚薄宽窄金银铜铁钱票价值文字语词句"
    "章节课题图表号码信息网站线条件事情物品工具机器表钟灯桌椅床柜箱包盒瓶杯碗盘刀剑弓箭枪炮兵将军官员"
)
# Designators ("Port", "Bank") use their own characters, like 市/港/局 in real names.
_HAN_DESIGNATOR = {"LOC": "市港州县镇湾峡洲", "ORG": "社局署院所司团盟部厅处组"}
# Content characters exclude name, designator and function characters, so each kind of word is recognisable.
_HAN_CONTENT = sorted(set(_HAN_POOL) - set(_HAN_SYLLABLES.values()) - set("".join(_HAN_FUNCTION))
                      - set("".join(_HAN_DESIGNATOR.values())))


class Chinese(Grammar):
    name = "zh"
    adverb_position = "preverbal"
    location_position = "preverbal"
    cased = False
    spaced = False
    period = "。"
    location_adp = "在"
    function_words = _HAN_FUNCTION

    def coin(self, rng, upos, kind=None):
        length = {"NOUN": 2, "ADV": 2}.get(upos) or rng.choice((1, 2))
        pool = _HAN_DESIGNATOR[kind] if upos == "PROPN" else _HAN_CONTENT
        return Lexeme("".join(rng.choice(pool) for _ in range(length)))

    def inflections(self, upos, lex):
        return {lex.stem}

    def adverb(self, lex):
        return lex.stem

    def noun_phrase(self, noun, adjective, plural, role):
        out = [_tok(adjective.stem, "ADJ"), _tok("的", "PART")] if adjective is not None else []
        return out + [_tok(noun.stem, "NOUN")]

    def verb_group(self, verb, tense, negated, plural, gender):
        v = _tok(verb.stem, "VERB")
        if tense == "past":
            return [_tok("没", "ADV"), v] if negated else [v, _tok("了", "PART")]
        out = [_tok("不", "ADV")] if negated else []
        return out + ([_tok("会", "AUX")] if tense == "future" else []) + [v]

    def predicate(self, adjective, tense, negated, intensified, plural, gender):
        out = {"past": [_tok("曾经", "ADV")], "present": [], "future": [_tok("会", "AUX")]}[tense]
        if negated:
            out = ([_tok("不", "ADV")] + out) if tense == "future" else (out + [_tok("不", "ADV")])
        if intensified:
            out.append(_tok("非常", "ADV"))
        elif not negated:
            out.append(_tok("很", "ADV"))
        return [], out + [_tok(adjective.stem, "ADJ")]

    def transliterate(self, phonemes):
        out, i = [], 0
        while i < len(phonemes):
            syllable = phonemes[i:i + 2] if i + 1 < len(phonemes) and phonemes[i + 1] in "aeiou" else phonemes[i]
            out.append(_HAN_SYLLABLES[syllable])
            i += len(syllable)
        return "".join(out)


GRAMMARS: dict[str, type[Grammar]] = {g.name: g for g in (Arabic, English, Spanish, French, Russian, Chinese)}
