#!/usr/bin/env python3
"""The datacenter picture of tvdc dc serve's page, from a DOM (chromium
--dump-dom), as tab-separated lines the tests compare with the state they
expect (the page's data attributes, dc/serve-page.html):

  page      updated=yes|no  generation=N  error=TEXT
  summary   hosts=N  unreachable=N  drift=N  violations=N
  host      NAME  reachable=true|false  unreachable=ERROR  drift=REASON
            host_label=LABEL  violations=N
  vm        HOST  NAME  label=LABEL  state=STATE  violation=DETAIL
  type      NAME  color=CSS
  conflict  NAME  types=T1 T2...

Hosts and VMs in page order.  Usage: dom-summary.py DOM.html"""
import sys
from html.parser import HTMLParser


class Page(HTMLParser):
    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.lines = []
        self.page = None
        self.summary = None

    def handle_starttag(self, tag, attrs):
        a = {k: (v if v is not None else '') for k, v in attrs}
        cls = a.get('class', '').split()
        if tag == 'body':
            self.page = 'page\tupdated=%s\tgeneration=%s\terror=%s' % (
                'yes' if 'data-updated' in a else 'no', a.get('data-generation', '0'),
                a.get('data-error', ''))
        elif a.get('id') == 'summary':
            self.summary = 'summary\t' + '\t'.join(
                '%s=%s' % (k, a.get('data-' + k, '')) for k in
                ('hosts', 'unreachable', 'drift', 'violations'))
        elif 'host' in cls and 'data-host' in a:
            self.lines.append('host\t%s\treachable=%s\tunreachable=%s\tdrift=%s\t'
                              'host_label=%s\tviolations=%s' % (
                                  a['data-host'], a.get('data-reachable', ''),
                                  a.get('data-unreachable', ''), a.get('data-drift', ''),
                                  a.get('data-host-label', ''), a.get('data-violations', '')))
        elif 'vm' in cls and 'data-vm' in a:
            self.lines.append('vm\t%s\t%s\tlabel=%s\tstate=%s\tviolation=%s' % (
                a.get('data-host', ''), a['data-vm'], a.get('data-label', ''),
                a.get('data-state', ''), a.get('data-violation', '')))
        elif 'type' in cls and 'data-type' in a and 'data-color' in a:
            self.lines.append('type\t%s\tcolor=%s' % (a['data-type'], a['data-color']))
        elif 'conflict' in cls and 'data-conflict' in a:
            self.lines.append('conflict\t%s\ttypes=%s' % (a['data-conflict'],
                                                          a.get('data-types', '')))


def main():
    p = Page()
    with open(sys.argv[1], encoding='utf-8') as f:
        p.feed(f.read())
    print(p.page or 'page\tupdated=no\tgeneration=0\terror=no body')
    if p.summary:
        print(p.summary)
    seen = set()
    for line in p.lines:
        # type chips appear in the legend and in every conflict set: once
        if line.startswith('type\t'):
            if line in seen:
                continue
            seen.add(line)
        print(line)


main()
