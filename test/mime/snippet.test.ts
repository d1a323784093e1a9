// The snippet's text step (src/mime/decode.ts collapsedPrefix, used by FETCH PREVIEW and the push
// driver's `snippet`) stops once it has its characters; it must give exactly what the whole-text
// definition gives: quoted lines out, NULs out, whitespace runs made one space, trimmed, the first
// `max` code points.
import { collapsedPrefix } from '../../src/mime/decode.js';

function byDefinition(text: string, max: number): string {
  const joined = text
    .split(/\r?\n/)
    .filter((line) => !line.startsWith('>'))
    .join(' ');
  return Array.from(joined.replace(/\0/g, '').replace(/\s+/g, ' ').trim()).slice(0, max).join('');
}

test('the same text as the definition, for generated texts', () => {
  const pieces = ['a', 'b', ' ', '\t', '\r', '\n', '\r\n', '>', '\0', '\u00a0', '😀', 'é', '\u2028', '  ', '\n>', 'x', '\ud83d', '\ude00', '\u3000'];
  let seed = 7;
  const rnd = (n: number) => ((seed = (seed * 1103515245 + 12345) % 2 ** 31), seed % n);
  for (let i = 0; i < 20_000; i++) {
    let text = '';
    for (let j = rnd(40); j > 0; j--) text += pieces[rnd(pieces.length)];
    const max = 1 + rnd(60);
    expect([text, max, collapsedPrefix(text, max)]).toEqual([text, max, byDefinition(text, max)]);
  }
});

test('examples', () => {
  expect(collapsedPrefix('> quoted\r\nHello,\r\n\r\n  how   are\tyou?\n> more quote\nBye', 200)).toBe('Hello, how are you? Bye');
  // The cut counts code points (an emoji is one) and may end on the space between words.
  expect(collapsedPrefix('😀😀 word', 3)).toBe('😀😀 ');
  expect(collapsedPrefix('x'.repeat(100_000), 200)).toBe('x'.repeat(200));
});
