// Generates testdata/tokenizer_expected.json: expected WordPiece ids for the real
// all-MiniLM-L6-v2 vocabulary, computed by an independent implementation (the BERT
// normalizer, pre-tokenizer and WordPiece model of @huggingface/tokenizers, pure JS, run
// offline by node). Not run by the build: it needs npm. Usage:
//   mkdir -p /tmp/tok && cd /tmp/tok && npm install --ignore-scripts @huggingface/tokenizers
//   node <repo>/src/embed/native/tools/gen_tokenizer_expected.mjs \
//        <repo>/src/embed/native/testdata/all-MiniLM-L6-v2 /tmp/tok/node_modules \
//        > <repo>/src/embed/native/testdata/tokenizer_expected.json
import fs from 'node:fs';
import path from 'node:path';
import { pathToFileURL } from 'node:url';

const [modelDir, nodeModules] = process.argv.slice(2);
const { Tokenizer } = await import(
  pathToFileURL(path.join(nodeModules, '@huggingface/tokenizers/dist/tokenizers.mjs')).href);

const vocabLines = fs.readFileSync(path.join(modelDir, 'vocab.txt'), 'utf8').split('\n');
if (vocabLines[vocabLines.length - 1] === '') vocabLines.pop();
const vocab = {};
vocabLines.forEach((tok, i) => { vocab[tok] = i; });
const config = JSON.parse(fs.readFileSync(path.join(modelDir, 'tokenizer_config.json'), 'utf8'));

// tokenizer.json equivalent of BertTokenizer(vocab.txt, do_lower_case=true). No added
// tokens: our tokenizer treats "[CLS]" inside user text as plain text, never as a special.
const tokenizerJson = {
  normalizer: { type: 'BertNormalizer', clean_text: true, handle_chinese_chars: true,
                strip_accents: null, lowercase: config.do_lower_case },
  pre_tokenizer: { type: 'BertPreTokenizer' },
  model: { type: 'WordPiece', unk_token: '[UNK]', continuing_subword_prefix: '##',
           max_input_chars_per_word: 100, vocab },
  post_processor: { type: 'BertProcessing', sep: ['[SEP]', vocab['[SEP]']], cls: ['[CLS]', vocab['[CLS]']] },
  decoder: { type: 'WordPiece', prefix: '##', cleanup: true },
  added_tokens: [],
};
const tok = new Tokenizer(tokenizerJson, { ...config, model_max_length: 512 });

const cls = vocab['[CLS]'];
const sep = vocab['[SEP]'];
const cases = [
  ['Hello, world!', 256],
  ['The quick brown fox jumps over the lazy dog.', 256],
  ['HeLLo WoRLD MiXeD CaSe', 256],
  ['Café naïve résumé Ångström', 256],
  ['Crème brûlée à la carte, s\'il vous plaît', 256],
  ['e\u0301cole decomposed accents', 256],
  ['ÀÉÎÕÜ ñ ç ø æ œ ß', 256],
  ['我爱北京天安门', 256],
  ['日本語のテキスト mixed with English', 256],
  ['한국어 텍스트', 256],
  ['中文,English;日本語!', 256],
  ['e-mail: foo@bar.com (test) [x] {y} "quoted" it\'s', 256],
  ['¿Qué? ¡Sí! «guillemets» — dash … ellipsis', 256],
  ['...---!!!???', 256],
  ['#hashtag $100 50% a&b a*b 1+1=2 <tag> a|b ~tilde `code` ^caret _under_', 256],
  ['🙂🚀 emoji and ☃ snowman', 256],
  ['zzxqjvk qwxzt', 256],
  ['unbelievably tokenization embeddings transformers', 256],
  ['supercalifragilisticexpialidocious antidisestablishmentarianism', 256],
  ['a'.repeat(100), 256],
  ['a'.repeat(101), 256],
  ['x'.repeat(250) + ' tail', 256],
  ['tab\there\nnew line\r\u0000null \u200bzero\u200dwidth', 256],
  ['non\u00a0breaking\u3000ideographic space', 256],
  ['', 256],
  ['   \t\n  ', 256],
  ['3.14159 1,000,000 2024-01-01T12:00:00Z', 256],
  ['Ελληνικά κείμενο ΟΔΟΣ Русский текст', 256],
  ['مرحبا بالعالم', 256],
  ['ＡＢＣ１２３ fullwidth', 256],
  ['[CLS] not a special [SEP] [UNK]', 256],
  ['C++ std::vector<int> x = {1, 2}; // comment', 256],
  ['https://example.com/path?query=1&b=two#frag', 256],
  ['The quick brown fox jumps over the lazy dog again and again.', 8],
  ['The quick brown fox jumps over the lazy dog again and again.', 2],
  ['The quick brown fox jumps over the lazy dog again and again.', 3],
  ['tokenization of embeddings', 4],
  [Array.from({ length: 300 }, (_, i) => `word${i % 17}`).join(' '), 256],
  [Array.from({ length: 60 }, () => 'contextualization').join(' '), 128],
];
const out = cases.map(([text, maxTokens]) => {
  const pieces = tok.encode(text, { add_special_tokens: false }).ids;
  const kept = pieces.slice(0, Math.max(0, maxTokens - 2));
  return { text, max_tokens: maxTokens, count: pieces.length, ids: [cls, ...kept, sep] };
});
process.stdout.write(JSON.stringify(out, null, 1) + '\n');
