// text.js: the words of a text, and a row of texts as the multi-hot the model takes. The
// rule is kinds/text.py's, the same in both languages (tests/cases/text.json runs against
// both): lower-case, then every run of letters and digits is a word. mlbridge.js uses it
// for TF.js and LiteRT.js; predict.mjs carries a copy.

export const words = (text) => text.toLowerCase().match(/[\p{L}\p{N}]+/gu) ?? [];

const indexes = new WeakMap();

// Texts -> one flat Float32Array of rows × vocabulary.length: 1 where a row has the word.
export function wordHot(texts, vocabulary) {
  let index = indexes.get(vocabulary);
  if (!index) indexes.set(vocabulary, (index = new Map(vocabulary.map((w, i) => [w, i]))));
  const out = new Float32Array(texts.length * vocabulary.length);
  texts.forEach((text, row) => {
    for (const word of words(text)) {
      const at = index.get(word);
      if (at !== undefined) out[row * vocabulary.length + at] = 1;
    }
  });
  return out;
}
