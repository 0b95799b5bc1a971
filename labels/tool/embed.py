#!/usr/bin/env python3
"""Embed a file in the tvdc command as a NUL-terminated char array and its
length: embed.py IN OUT [NAME] (default NAME: tvdc_default_policy, for
labels/examples/bank.json)."""
import sys

data = open(sys.argv[1], 'rb').read()
name = sys.argv[3] if len(sys.argv) > 3 else 'tvdc_default_policy'
with open(sys.argv[2], 'w') as out:
    out.write('/* Generated from %s; do not edit. */\n' % sys.argv[1].split('/')[-1])
    out.write('#include <stddef.h>\n')
    out.write('const char %s[] = {\n' % name)
    for i in range(0, len(data), 12):
        out.write('    ' + ', '.join('0x%02x' % b for b in data[i:i + 12]) + ',\n')
    out.write('    0x00\n};\n')
    out.write('const size_t %s_len = %d;\n' % (name, len(data)))
