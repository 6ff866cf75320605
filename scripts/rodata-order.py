#!/usr/bin/env python3
"""Read-only data layout for the CLI (used by scripts/symbol-order.sh; build.rs links the result).

  rodata-order.py write MAP OUT.ld TRACE...   names, in a linker script, the input sections of
                                              .rodata the traced commands read, in first-read order
  rodata-order.py check MAP SCRIPT TRACE...   says how many of them the binary has in .rodata.hot

MAP is lld's link map of the traced binary (build.rs writes $OUT_DIR/kpki.map); each TRACE is a
valgrind lackey `--trace-mem=yes` log of one command, the pipeline's commands first.

Why: a CLI call lives ~1 ms, and the kernel maps a file page's 16 neighbours on every read fault
and undoes it at exit. The constants a command reads (jump tables, strings, serde field lists,
AWS-LC's tables) were spread over 1.6 MB of .rodata: `gencert` touched 20 64-KiB windows of it.
Most of them have no symbol (Rust's anonymous constants, jump tables), so the symbol ordering file
cannot place them; a linker script names their input sections instead (`INSERT BEFORE .rodata`,
which keeps lld's default layout for everything else). Sections lld merges (`<internal>`:
.rodata.cst16, .rodata.str1.1 …) cannot be split: the script moves each one read as a whole.
"""
import bisect
import re
import sys

HASH = re.compile(r'[0-9a-f]{16}')
LINE = re.compile(r'^\s*([0-9a-f]+)\s+[0-9a-f]+\s+([0-9a-f]+)\s+\d+( +)(.*)$')
BIG = 16 * 1024  # sections this large get windows of their own wherever they are: placed last


def read_map(path):
    """Input sections of .rodata / .rodata.hot as (start, size, output section, file, name)."""
    sections, out = [], None
    for line in open(path, errors='replace'):
        m = LINE.match(line.rstrip('\n'))
        if not m:
            continue
        start, size, indent, text = int(m.group(1), 16), int(m.group(2), 16), len(m.group(3)), m.group(4)
        if indent == 1:
            out = text
        elif indent == 9 and size and out in ('.rodata', '.rodata.hot') and text.endswith(')'):
            file, _, name = text[:-1].rpartition(':(')
            if file:
                sections.append((start, size, out, file, name))
    sections.sort()
    return sections


def touched(sections, traces):
    """Sections read by the traced commands, in first-read order (command by command)."""
    starts = [s[0] for s in sections]
    lo = sections[0][0] if sections else 0
    hi = max((s[0] + s[1] for s in sections), default=0)
    seen, order = set(), []
    for trace in traces:
        for line in open(trace, errors='replace'):
            if line[:2] not in (' L', ' S', ' M'):
                continue
            try:
                addr = int(line[3:].split(',', 1)[0], 16)
            except ValueError:
                continue
            if not lo <= addr < hi:
                continue
            i = bisect.bisect_right(starts, addr) - 1
            if i >= 0 and addr < sections[i][0] + sections[i][1] and i not in seen:
                seen.add(i)
                order.append(sections[i])
    return order


def pattern(section, unique):
    """A linker-script input section description matching this section and (nearly) no other."""
    _, _, _, file, name = section
    # A section lld made by merging every object's constants or strings of one kind
    # (.rodata.cst16, .rodata.str1.1; GCC with -fdata-sections names them .rodata.<function>.str1.1,
    # and lld merges those into whichever name came first): gather every input of that kind.
    kind = re.search(r'\.(str\d+\.\d+|cst\d+)$', name)
    if file == '<internal>' and kind:
        return '*(.rodata.%s .rodata.*.%s)' % (kind.group(1), kind.group(1))
    if unique or file == '<internal>':
        return '*(%s)' % name
    # `archive(member)` in the map is `archive:member` in a script; hashes in rlib and object
    # names change from build to build.
    m = re.match(r'^(.*)\((.*)\)$', file)
    spec = '%s:%s' % (m.group(1).rsplit('/', 1)[-1], m.group(2)) if m else file.rsplit('/', 1)[-1]
    return '*%s(%s)' % (HASH.sub('*', spec), name)


def main():
    mode, map_path, target, traces = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4:]
    sections = read_map(map_path)
    if not sections:
        sys.exit('rodata order: no .rodata input sections in %s' % map_path)
    names = {}
    for s in sections:
        names[s[4]] = names.get(s[4], 0) + 1
    read = touched(sections, traces)
    if mode == 'write':
        # Merged strings come whole (all the C strings, ~100 KiB): with the big tables, after
        # the small sections, which then share as few windows as they can.
        def big(s):
            return s[1] >= BIG or (s[3] == '<internal>' and re.search(r'\.str\d+\.\d+$', s[4]))
        small = [s for s in read if not big(s)]
        big = [s for s in read if big(s)]
        lines = [
            '/* Read-only data kpki\'s CLI commands read, in first-read order: gathered into .rodata.hot',
            '   (build.rs, release builds). Generated by scripts/symbol-order.sh; do not edit. */',
            'SECTIONS {',
            '  .rodata.hot : {',
        ]
        done = set()
        for s in small + big:
            p = pattern(s, names[s[4]] == 1)
            if p not in done:
                done.add(p)
                lines.append('    ' + p)
        lines += ['  }', '} INSERT BEFORE .rodata;']
        with open(target, 'w') as f:
            f.write('\n'.join(lines) + '\n')
        print('rodata order: %d sections (%d KiB) written' % (len(done), sum(s[1] for s in read) // 1024))
    elif mode == 'check':
        inside = [s for s in read if s[2] == '.rodata.hot']
        size = sum(s[1] for s in read if s[2] != '.rodata.hot')
        print('rodata order: %d of %d read-only data sections the CLI commands read are in .rodata.hot; '
              '%d KiB elsewhere (regenerate with scripts/symbol-order.sh when that grows)'
              % (len(inside), len(read), size // 1024))
    else:
        sys.exit('usage: rodata-order.py write|check MAP OUT TRACE...')


if __name__ == '__main__':
    main()
