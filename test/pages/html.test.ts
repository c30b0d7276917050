import { describe, expect, it } from 'vitest';
import { validReturnTo } from '../../src/authorization/return-to.js';
import { escapeHtml, html } from '../../src/pages/html.js';

describe('escapeHtml and the html template tag', () => {
  it.each([
    ['<script>', '&lt;script&gt;'],
    ['"quoted" & \'single\'', '&quot;quoted&quot; &amp; &#39;single&#39;'],
    ['`tick`', '&#96;tick&#96;'],
    ['plain text', 'plain text'],
  ])('escapes %s', (input, output) => expect(escapeHtml(input)).toBe(output));

  it('escapes every interpolated value, keeps nested fragments, drops null, undefined and false', () => {
    const name = '<img src=x onerror=alert(1)>';
    expect(html`<p title="${name}">${name}</p>`.text).toBe('<p title="&lt;img src=x onerror=alert(1)&gt;">&lt;img src=x onerror=alert(1)&gt;</p>');
    expect(html`<ul>${['a<', 'b'].map((item) => html`<li>${item}</li>`)}</ul>`.text).toBe('<ul><li>a&lt;</li><li>b</li></ul>');
    expect(html`${null}${undefined}${false}${0}`.text).toBe('0');
  });
});

describe('return_to: a path on this server only', () => {
  it.each([
    ['http://id.example', '/authorize?client_id=a&state=b', '/authorize?client_id=a&state=b'],
    ['http://id.example/tenant', '/tenant/authorize?x=1', '/tenant/authorize?x=1'],
    ['http://id.example/tenant', '/tenantx/authorize', undefined],
    ['http://id.example/tenant', '/other', undefined],
    ['http://id.example/tenant', '/tenant/../other', undefined],
    ['http://id.example', 'https://evil.example/', undefined],
    ['http://id.example', '//evil.example/path', undefined],
    ['http://id.example', '/\\evil.example', undefined],
    ['http://id.example', '/ok#fragment', undefined],
    ['http://id.example', '/with space', undefined],
    ['http://id.example', 'relative', undefined],
    ['http://id.example', `/${'a'.repeat(5000)}`, undefined],
  ])('issuer %s, return_to %s', (issuer, raw, expected) => expect(validReturnTo(issuer, raw)).toBe(expected));
});
