import { normalizeForDetection } from './normalize.ts';

/**
 * Overrides and secret requests in other languages. The lexicon is the translation of the English rules' core words
 * (ignore / forget + instructions / previous; reveal / tell + password / secret), written from the languages
 * themselves, not learned from data: the training split has no non-English injections. A match needs a verb and a
 * noun of the pair within a short window, in either order (verb-final languages put the verb last), so a lone
 * "olvida" or "パスワード" in ordinary text does not fire.
 */
export interface LexiconPair {
  readonly id: string;
  readonly score: number;
  /** Verbs that come before their object (most languages here). */
  readonly verbs: readonly string[];
  /** Verbs of verb-final languages (Japanese, Korean, Turkish, Hindi, Bengali, Persian), which follow their object. */
  readonly finalVerbs: readonly string[];
  readonly nouns: readonly string[];
  /** Characters allowed between the end of the first word and the start of the second. */
  readonly window: number;
}

export const overrideLexicon: LexiconPair = {
  id: 'multilingual.ignore-instructions',
  score: 0.9,
  window: 40,
  verbs: [
    // es, pt, it, fr, ro
    'ignora', 'ignore', 'ignorar', 'ignoren', 'ignorad', 'ignorate', 'ignorare', 'ignorez', 'ignorer', 'ignorați', 'ignoră',
    'olvida', 'olvide', 'olvidar', 'olviden', 'olvidad', 'omite', 'omitir', 'descarta', 'haz caso omiso', 'no hagas caso',
    'esqueça', 'esqueca', 'esquecer', 'esqueçam', 'desconsidere', 'desconsiderar', 'desconsidera',
    'dimentica', 'dimenticare', 'dimenticate', 'trascura', 'non considerare', 'non tenere conto',
    'oublie', 'oubliez', 'oublier', 'ne tiens pas compte', 'ne tenez pas compte', 'fais abstraction', 'faites abstraction', 'uită', 'uitați',
    // de, nl, pl, cs, tr, sw, id
    'ignoriere', 'ignorieren', 'ignoriert', 'vergiss', 'vergessen', 'vergesst', 'missachte', 'missachten', 'beachte nicht', 'beachten sie nicht',
    'negeer', 'negeren', 'vergeet', 'zignoruj', 'ignoruj', 'zapomnij', 'pomiń', 'ignorujte', 'zapomeň', 'zapomeňte',
    'puuza', 'sahau', 'abaikan', 'lupakan', 'bỏ qua', 'quên', 'phớt lờ',
    // ru, uk, el
    'игнорируй', 'игнорируйте', 'игнорировать', 'проигнорируй', 'проигнорируйте', 'забудь', 'забудьте', 'забыть', 'не обращай внимания', 'пренебреги',
    'ігноруй', 'ігноруйте', 'забудь', 'забудьте', 'αγνόησε', 'αγνοήστε', 'ξέχασε', 'ξεχάστε',
    // zh, ja, ko
    '忽略', '无视', '無視', '忽视', '忽視', '忘记', '忘記', '忘掉', '不要理会', '不要理會', '無視して', 
    // ar, fa, he, hi, bn
    'تجاهل', 'تجاهلي', 'انسى', 'انس', 'أهمل', 'اهمل', 'התעלם', 'שכח',
  ],
  finalVerbs: [
    'yok say', 'görmezden gel', 'unut', '無視', '無視して', '忘れて', '忘れ', '무시', '잊어', '잊으', 'نادیده بگیر', 'فراموش کن',
    'अनदेखा', 'नजरअंदाज', 'नज़रअंदाज़', 'भूल जाओ', 'भूल जाएं', 'भूल जाइए', 'উপেক্ষা', 'ভুলে যাও', 'ভুলে যান',
  ],
  nouns: [
    'instrucciones', 'indicaciones', 'directrices', 'órdenes', 'instruções', 'diretrizes', 'istruzioni', 'direttive',
    'consignes', 'directives', 'instructions', 'instrucțiunile', 'instrucțiuni',
    'anweisungen', 'anweisung', 'instruktionen', 'befehle', 'vorgaben', 'instructies', 'aanwijzingen', 'instrukcje', 'instrukcji', 'polecenia', 'pokyny', 'instrukce',
    'talimatları', 'talimatlar', 'maagizo', 'maelekezo', 'instruksi', 'petunjuk', 'perintah', 'hướng dẫn', 'chỉ thị', 'chỉ dẫn',
    'инструкции', 'инструкций', 'инструкциям', 'указания', 'указаний', 'інструкції', 'інструкцій', 'вказівки', 'οδηγίες',
    '指令', '指示', '规则', '規則', '说明', '命令', 'ルール', '지시', '지침', '명령', '규칙',
    'التعليمات', 'تعليمات', 'الأوامر', 'الاوامر', 'دستورالعمل', 'دستورات', 'הוראות', 'निर्देश', 'निर्देशों', 'নির্দেশ', 'নির্দেশাবলী',
  ],
};

export const secretLexicon: LexiconPair = {
  id: 'multilingual.reveal-secret',
  score: 0.75,
  window: 30,
  verbs: [
    'dime', 'dígame', 'revela', 'revele', 'revelar', 'muestra', 'muéstrame', 'dame', 'cuál es', 'diga-me', 'me diga', 'mostre', 'qual é', 'me dê',
    'dimmi', 'rivela', 'rivelare', 'mostrami', 'qual è', 'dis-moi', 'dites-moi', 'révèle', 'révélez', 'montre-moi', 'donne-moi', 'quel est',
    'sag mir', 'sagen sie mir', 'verrate', 'verraten', 'zeig mir', 'gib mir', 'wie lautet', 'was ist', 'vertel me', 'geef me', 'wat is',
    'powiedz', 'podaj', 'ujawnij', 'niambie', 'beritahu', 'berikan', 'cho tôi biết', 'tiết lộ',
    'скажи', 'скажите', 'раскрой', 'покажи', 'назови', 'какой', 'каков', 'скажіть', 'покажи',
    '告诉我', '告訴我', '透露', '显示', '顯示', 'أخبرني', 'اخبرني', 'اكشف', 'ما هي', 'ما هو', 'תגיד לי',
  ],
  finalVerbs: [
    'söyle', 'göster', 'nedir', '是什么', '是什麼', '教えて', '明かして', '何ですか', '알려', '공개', '무엇', 'به من بگو', 'بگو',
    'बताओ', 'बताएं', 'बताइए', 'बताइये', 'प्रकट करें', 'বলুন', 'বলো', 'là gì',
  ],
  nouns: [
    'contraseña', 'clave secreta', 'senha', 'chave secreta', 'mot de passe', 'clé secrète', 'passwort', 'kennwort', 'geheimer schlüssel', 'geheime schlüssel',
    'chiave segreta', 'parola d\'ordine', 'wachtwoord', 'hasło', 'heslo', 'şifre', 'parola', 'nenosiri', 'kata sandi', 'mật khẩu', 'khóa bí mật',
    'пароль', 'секретный ключ', 'секретное слово', 'секретний ключ', '密码', '密碼', '密钥', '秘密鍵', 'パスワード', '비밀번호', '암호', '비밀 키',
    'كلمة المرور', 'كلمة السر', 'المفتاح السري', 'رمز عبور', 'סיסמה', 'पासवर्ड', 'गुप्त कुंजी', 'পাসওয়ার্ড',
  ],
};

export interface CompiledLexicon {
  readonly pair: LexiconPair;
  readonly verbs: WordSet;
  readonly finalVerbs: WordSet;
  readonly nouns: WordSet;
}

/**
 * A word list as two alternations: words written in ASCII, and the others. Text without a single non-ASCII
 * character (most English text) skips the second one.
 */
interface WordSet {
  readonly ascii: RegExp | null;
  readonly other: RegExp | null;
}

const nonAscii = /[^\t\n\r\u0020-\u007e]/;

function escapeForPattern(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

/** Entries go through the same normalization as the scanned text, so accents and case never decide a match. */
function wordSet(words: readonly string[]): WordSet {
  const normalized = [...new Set(words.map((word) => normalizeForDetection(word).text.trim()))].filter((word) => word.length > 0);
  normalized.sort((first, second) => second.length - first.length);
  const alternation = (chosen: string[]): RegExp | null => (chosen.length === 0 ? null : new RegExp(chosen.map(escapeForPattern).join('|'), 'g'));
  return { ascii: alternation(normalized.filter((word) => !nonAscii.test(word))), other: alternation(normalized.filter((word) => nonAscii.test(word))) };
}

export function compileLexicon(pair: LexiconPair): CompiledLexicon {
  return { pair, verbs: wordSet(pair.verbs), finalVerbs: wordSet(pair.finalVerbs), nouns: wordSet(pair.nouns) };
}

/** Matches of a word set, at most `limit` of them, as [start, end) pairs in text order. */
function matchesOf(words: WordSet, text: string, hasNonAscii: boolean, limit: number): [number, number][] {
  const found: [number, number][] = [];
  for (const pattern of [words.ascii, hasNonAscii ? words.other : null]) {
    if (pattern === null) continue;
    pattern.lastIndex = 0;
    let count = 0;
    for (let match = pattern.exec(text); match !== null && count < limit; match = pattern.exec(text), count += 1) {
      found.push([match.index, match.index + match[0].length]);
    }
  }
  return found.sort((first, second) => first[0] - second[0] || first[1] - second[1]);
}

/** The first noun starting at or after `from`: binary search over nouns in text order. */
function firstNounFrom(nouns: readonly [number, number][], from: number): number {
  let low = 0;
  let high = nouns.length;
  while (low < high) {
    const middle = (low + high) >> 1;
    if (nouns[middle]![0] < from) low = middle + 1;
    else high = middle;
  }
  return low;
}

/**
 * Spans where a verb is followed by a noun of the pair within the window (or, for verb-final languages, preceded by
 * one). Matches are capped and each lookup is a binary search, so the whole is n log n at worst.
 */
export function findLexiconPairs(lexicon: CompiledLexicon, text: string, limit: number): [number, number][] {
  const hasNonAscii = nonAscii.test(text);
  const verbs = matchesOf(lexicon.verbs, text, hasNonAscii, 4096);
  const finalVerbs = matchesOf(lexicon.finalVerbs, text, hasNonAscii, 4096);
  if (verbs.length === 0 && finalVerbs.length === 0) return [];
  const nouns = matchesOf(lexicon.nouns, text, hasNonAscii, 4096);
  const window = lexicon.pair.window;
  const spans: [number, number][] = [];
  for (const [verbStart, verbEnd] of verbs) {
    const noun = nouns[firstNounFrom(nouns, verbEnd)];
    if (noun !== undefined && noun[0] <= verbEnd + window) spans.push([verbStart, noun[1]]);
    if (spans.length >= limit) return spans;
  }
  for (const [verbStart, verbEnd] of finalVerbs) {
    const noun = nouns[firstNounFrom(nouns, verbStart) - 1];
    if (noun !== undefined && noun[1] <= verbStart && noun[1] >= verbStart - window) spans.push([noun[0], verbEnd]);
    if (spans.length >= limit) break;
  }
  return spans;
}
