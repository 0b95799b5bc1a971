#!/usr/bin/env python3
"""Embed the default policy (labels/examples/bank.json) into the tvdc command."""
import sys

data = open(sys.argv[1], 'rb').read()
with open(sys.argv[2], 'w') as out:
    out.write('/* Generated from %s; do not edit. */\n' % sys.argv[1].split('/')[-1])
    out.write('#include <stddef.h>\n')
    out.write('const char tvdc_default_policy[] = {\n')
    for i in range(0, len(data), 12):
        out.write('    ' + ', '.join('0x%02x' % b for b in data[i:i + 12]) + ',\n')
    out.write('    0x00\n};\n')
    out.write('const size_t tvdc_default_policy_len = %d;\n' % len(data))
