#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-only OR BSD-2-Clause
"""md2man: a man page (roff, man macros) from a page in libfabric's markdown form.

    md2man.py [-o OUTPUT] INPUT.md

Libfabric writes its man pages in markdown and renders them with pandoc;
man/fi_fpgadma.7.md is one of those, and this renders it without pandoc.
It knows the part of markdown those pages use, nothing more:

  - a front matter between '---' lines: 'title: NAME(SECTION)', 'tagline:'
    (the header's centre) and optionally 'date:';
  - '# HEADING' (.SH) and '## HEADING' (.SS);
  - paragraphs; '- ' or '* ' bullet lists, an item's further lines indented
    by 2 more than its marker;
  - definition lists: a term line, then one or more paragraphs each starting
    with ': ', their further lines indented by 2; a paragraph may be (or
    start) a bullet list ('  - item', items' further lines indented by 4),
    and a line indented by 2 after such a list starts another paragraph of
    the same definition;
  - fenced code blocks (```);
  - inline: *emphasis* (italic), **strong** (bold), `code` (bold),
    [text](link) (the text only: the links point at HTML pages), and
    backslash escapes (\\- is a minus sign).

Anything else is an error rather than a guess: the page is checked by
tests/host/man-pages.sh (man --warnings), and the output needs no tool but
python3.
"""

import argparse
import os
import re
import sys


class Md2ManError(Exception):
    pass


def roff_escape(text, code=False):
    """Escape text for roff: backslashes, and hyphens in code (minus signs)."""
    text = text.replace('\\', '\\e')
    if code:
        text = text.replace('-', '\\-')
    return text


_CODE = re.compile(r'`([^`]+)`')
_LINK = re.compile(r'\[([^\]]+)\]\(([^)\s]+)\)')
_STRONG = re.compile(r'\*\*(\S(?:[^*]*?\S)?)\*\*')
_EMPH = re.compile(r'\*(\S(?:[^*]*?\S)?)\*')


def inline(text):
    """Markdown inline markup of text (lines joined by newlines) in roff."""
    # Code spans first: nothing inside them is markup.  They are kept apart
    # as placeholders (NUL never occurs in the input).
    spans = []

    def keep(roff):
        spans.append(roff)
        return '\0%d\0' % (len(spans) - 1)

    text = _CODE.sub(lambda m: keep('\\fB' + roff_escape(m.group(1), code=True) + '\\fR'), text)
    # Backslash escapes of markdown: \- is the minus sign, \X is X.
    out = []
    i = 0
    while i < len(text):
        c = text[i]
        if c == '\\' and i + 1 < len(text) and not text[i + 1].isalnum() and text[i + 1] != '\n':
            nxt = text[i + 1]
            if nxt == '-':
                out.append(keep('\\-'))
            elif nxt == '*':
                out.append(keep('*'))
            else:
                out.append(keep(roff_escape(nxt)))
            i += 2
            continue
        out.append(roff_escape(c))
        i += 1
    text = ''.join(out)
    text = _LINK.sub(lambda m: m.group(1), text)
    text = _STRONG.sub(lambda m: '\\fB' + m.group(1) + '\\fR', text)
    text = _EMPH.sub(lambda m: '\\fI' + m.group(1) + '\\fR', text)
    if '*' in text.replace('\0', ''):
        # An unmatched emphasis marker: say so rather than print it.
        stray = [l for l in text.split('\n') if '*' in l]
        raise Md2ManError('unmatched * in: %s' % stray[0].strip())
    text = re.sub('\0(\\d+)\0', lambda m: spans[int(m.group(1))], text)
    return text


def text_lines(text):
    """Roff input lines of a paragraph's converted text (one per source line)."""
    lines = []
    for line in inline(text).split('\n'):
        line = line.strip()
        if not line:
            continue
        # A line starting with . or ' would be a request.
        if line[0] in ".'":
            line = '\\&' + line
        lines.append(line)
    return lines


def indent_of(line):
    return len(line) - len(line.lstrip(' '))


class Converter:
    def __init__(self, lines, name):
        self.lines = lines
        self.name = name
        self.i = 0
        self.out = []

    def error(self, msg):
        raise Md2ManError('%s:%d: %s' % (self.name, self.i + 1, msg))

    def peek(self, k=0):
        j = self.i + k
        return self.lines[j] if j < len(self.lines) else None

    def emit(self, *lines):
        self.out.extend(lines)

    def front_matter(self):
        meta = {}
        if self.peek() is not None and self.peek().strip() == '---':
            self.i += 1
            while True:
                line = self.peek()
                if line is None:
                    self.error('front matter not closed by ---')
                self.i += 1
                if line.strip() == '---':
                    break
                m = re.match(r'^(\w+):\s*(.*?)\s*$', line)
                if m:
                    meta[m.group(1)] = m.group(2).strip('"\'')
        m = re.match(r'^([\w.-]+)\((\w+)\)$', meta.get('title', ''))
        if not m:
            self.error('the front matter needs "title: NAME(SECTION)"')
        title, section = m.group(1), m.group(2)
        self.emit('.\\" Generated from %s by man/md2man.py: edit that file, not this one.' % self.name,
                  '.TH "%s" "%s" "%s" "fpgadma" "%s"' % (title, section, meta.get('date', ''),
                                                  meta.get('tagline', '')),
                  # No hyphenation: the page is full of identifiers.
                  '.nh')

    # --- blocks --------------------------------------------------------------

    def paragraph_text(self, first, cont_indent):
        """first plus the following lines indented by at least cont_indent
        that start no other block."""
        parts = [first]
        while True:
            line = self.peek()
            if line is None or not line.strip():
                break
            if indent_of(line) < cont_indent:
                break
            stripped = line.strip()
            if stripped.startswith(('- ', '* ', ': ', '```', '#')) and indent_of(line) <= cont_indent:
                break
            parts.append(stripped)
            self.i += 1
        return '\n'.join(parts)

    def bullet_list(self, marker_indent):
        """Items '- ' at marker_indent; the caller has checked the first."""
        while True:
            line = self.peek()
            if line is None or indent_of(line) != marker_indent or \
                    not line.strip().startswith(('- ', '* ')):
                break
            self.i += 1
            first = line.strip()[2:]
            self.emit('.IP \\(bu 2')
            self.emit(*text_lines(self.paragraph_text(first, marker_indent + 2)))

    def code_block(self):
        fence = self.peek()
        base = indent_of(fence)
        self.i += 1
        self.emit('.PP', '.RS 4', '.nf')
        while True:
            line = self.peek()
            if line is None:
                self.error('code block not closed')
            self.i += 1
            if line.strip() == '```':
                break
            code = line[base:] if indent_of(line) >= base else line.lstrip(' ')
            code = roff_escape(code.rstrip(), code=True)
            if code.startswith(('.', "'")):
                code = '\\&' + code
            self.emit(code if code else '')
        self.emit('.fi', '.RE')

    def definition(self):
        term = self.peek().strip()
        self.i += 1
        self.emit('.TP')
        self.emit(*text_lines(term))
        first_para = True
        while True:
            line = self.peek()
            if line is None:
                break
            stripped = line.strip()
            if line.startswith(': '):
                self.i += 1
                body = line[2:]
            elif stripped and indent_of(line) == 2 and not first_para:
                # A paragraph of this definition after a list.
                self.i += 1
                body = stripped
            else:
                break
            if not first_para:
                self.emit('.IP')
            first_para = False
            if body.lstrip().startswith(('- ', '* ')):
                # The list starts the paragraph: back up and read it as items
                # at indent 2.
                self.lines[self.i - 1] = '  ' + body.lstrip()
                self.i -= 1
                self.emit('.RS')
                self.bullet_list(2)
                self.emit('.RE')
                continue
            self.emit(*text_lines(self.paragraph_text(body.strip(), 2)))
            nxt = self.peek()
            if nxt is not None and indent_of(nxt) == 2 and nxt.strip().startswith(('- ', '* ')):
                self.emit('.RS')
                self.bullet_list(2)
                self.emit('.RE')

    def convert(self):
        self.front_matter()
        while self.peek() is not None:
            line = self.peek()
            stripped = line.strip()
            if not stripped or stripped.startswith('{%'):
                self.i += 1
                continue
            m = re.match(r'^(#{1,2})\s+(.*?)\s*#*$', line)
            if m:
                self.i += 1
                macro = '.SH' if len(m.group(1)) == 1 else '.SS'
                self.emit('%s "%s"' % (macro, inline(m.group(2)).replace('"', '\\(dq')))
                continue
            if line.startswith('#'):
                self.error('unsupported heading: %s' % stripped)
            if stripped.startswith('```'):
                self.code_block()
                continue
            if indent_of(line) == 0 and stripped.startswith(('- ', '* ')) and \
                    not re.match(r'^\*[^*\s]', stripped):
                self.bullet_list(0)
                continue
            nxt = self.peek(1)
            if nxt is not None and nxt.startswith(': '):
                self.definition()
                continue
            if line.startswith(': '):
                self.error('a definition without a term')
            if indent_of(line) > 0:
                self.error('unexpected indented line (a definition or list continues with 2 spaces): %s'
                           % stripped)
            self.i += 1
            self.emit('.PP')
            self.emit(*text_lines(self.paragraph_text(stripped, 0)))
        return '\n'.join(self.out) + '\n'


def main():
    ap = argparse.ArgumentParser(description='render a libfabric-style markdown man page as roff')
    ap.add_argument('input')
    ap.add_argument('-o', '--output', help='output file (default: standard output)')
    ap.add_argument('--name', help='the source name written in the page (default: INPUT)')
    args = ap.parse_args()
    with open(args.input, encoding='utf-8') as f:
        lines = f.read().split('\n')
    if lines and lines[-1] == '':
        lines.pop()
    try:
        roff = Converter([l.rstrip() for l in lines], args.name or args.input).convert()
    except Md2ManError as e:
        print('md2man: %s' % e, file=sys.stderr)
        return 1
    if args.output:
        tmp = args.output + '.tmp'
        with open(tmp, 'w', encoding='utf-8') as f:
            f.write(roff)
        os.replace(tmp, args.output)
    else:
        sys.stdout.write(roff)
    return 0


if __name__ == '__main__':
    sys.exit(main())
