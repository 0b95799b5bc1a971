#!/usr/bin/python3
"""Drive a running virt-manager through its accessibility interface (AT-SPI,
with dogtail) for it-virt-manager.sh.  One action per call; what it reads is
written to OUT (not stdout, where dogtail reports what it does).  Exit
status 1 when the action could not be done (the widget never appeared), with
the reason on stderr.  Buttons are pressed by their AT-SPI action "click",
rows and tabs chosen through AT-SPI's Table and Selection interfaces: no
mouse, so a window on top (the VM's over the manager) is no matter.

  vman-a11y.py list OUT NAME...   wait until virt-manager's VM list shows
                                  every NAME; OUT: the list's rows
  vman-a11y.py start VM OUT       select VM in the list, press Run, wait for
                                  an error dialog; OUT: its message
  vman-a11y.py run VM             select VM in the list, press Run, wait
                                  until the list says it is running (an
                                  error dialog instead: exit 1, its message
                                  on stderr)
  vman-a11y.py close-dialog       press Close in the error dialog
  vman-a11y.py xml VM OUT         open VM's window, Details, the XML tab;
                                  OUT: the XML editor's text
  vman-a11y.py edit-xml VM OLD NEW   in VM's XML editor replace the text OLD
                                  by NEW and press Apply

Run with /usr/bin/python3 (Debian's python3-dogtail), DISPLAY and
DBUS_SESSION_BUS_ADDRESS of virt-manager's session.
"""

import sys
import time

from dogtail.config import config

config.logDebugToFile = False
config.searchCutoffCount = 10

from dogtail import tree  # noqa: E402  (after the configuration)

APP = "virt-manager"


def die(msg):
    sys.stderr.write("vman-a11y: %s\n" % msg)
    sys.exit(1)


def wait_for(what, fn, seconds):
    """fn() until it returns something true (exceptions: not yet)"""
    end = time.monotonic() + seconds
    while True:
        try:
            got = fn()
            if got:
                return got
        except Exception:       # the tree changes under us while it loads
            pass
        if time.monotonic() > end:
            die("%s: not there after %d s" % (what, seconds))
        time.sleep(0.5)


def app():
    return wait_for("virt-manager on the accessibility bus",
                    lambda: tree.root.application(APP), 60)


def manager(a):
    return a.child(name="Virtual Machine Manager", roleName="frame")


def rows(a):
    """the rows of the VM list: (index, first line of the name cell)"""
    t = manager(a).child(name="vm-list", roleName="tree table").queryTable()
    out = []
    for r in range(t.nRows):
        names = [c.name for c in t.getAccessibleAt(r, 0) if c.name]
        if names:
            out.append((r, names[0].split("\n")[0]))
    return out


def select(a, vm):
    t = manager(a).child(name="vm-list", roleName="tree table").queryTable()
    row = wait_for("%s in the VM list" % vm,
                   lambda: [r for r, n in rows(a) if n == vm], 30)[0]
    t.addRowSelection(row)
    wait_for("%s selected" % vm, lambda: t.isRowSelected(row), 10)


def alert(a):
    return [w for w in a.children if w.roleName == "alert" and w.showing]


def details(a, vm):
    return [w for w in a.children
            if w.roleName == "frame" and w.name.startswith(vm + " on ")]


def xml_text(win):
    return [n for n in win.findChildren(
        lambda n: n.roleName == "text" and n.showing)
        if n.text.lstrip().startswith("<domain")]


def unwrap(text):
    """Wrapped lines as one: joined by a space, except after a line that
    ends in "-" (a break after a hyphen)."""
    line = ""
    for part in text.split("\n"):
        part = " ".join(part.split())
        if not part:
            continue
        line += part if not line or line.endswith("-") else " " + part
    return line


def write(path, text):
    with open(path, "w") as f:
        f.write(text)


def state(a, vm):
    t = manager(a).child(name="vm-list", roleName="tree table").queryTable()
    for r in range(t.nRows):
        for c in t.getAccessibleAt(r, 0):
            if c.name.split("\n")[0] == vm:
                return c.name.split("\n")[-1]
    return None


def cmd_list(out, *names):
    a = app()
    wait_for("the VM list with %s" % " ".join(names),
             lambda: set(names) <= {n for _, n in rows(a)}, 60)
    write(out, "".join(n + "\n" for _, n in rows(a)))


def cmd_start(vm, out):
    a = app()
    select(a, vm)
    manager(a).child(name="Run", roleName="push button").doActionNamed("click")

    def refused():
        if state(a, vm) == "Running":
            die("%s started: no error dialog" % vm)
        return alert(a)
    dlg = wait_for("an error dialog after Run", refused, 60)[0]
    # The message is the dialog's first showing label, wrapped into lines
    # by virt-manager (textwrap: also after a hyphen): rejoined into one
    # line; the Details expander holds the traceback.
    labels = [n.text for n in dlg.findChildren(
        lambda n: n.roleName == "label" and n.showing) if n.text]
    if not labels:
        die("the error dialog has no text")
    write(out, unwrap(labels[0]) + "\n")


def cmd_run(vm):
    a = app()
    select(a, vm)
    manager(a).child(name="Run", roleName="push button").doActionNamed("click")

    def done():
        for dlg in alert(a):
            die("an error dialog: " + " ".join(
                n.text for n in dlg.findChildren(
                    lambda n: n.roleName == "label" and n.showing)))
        return state(a, vm) == "Running"
    wait_for("%s running" % vm, done, 60)


def cmd_close_dialog():
    a = app()
    dlg = wait_for("the error dialog", lambda: alert(a), 10)[0]
    dlg.child(name="Close", roleName="push button").doActionNamed("click")
    wait_for("the error dialog closed", lambda: not alert(a), 10)


def open_xml(a, vm):
    if not details(a, vm):
        select(a, vm)
        manager(a).child(name="Open", roleName="push button").doActionNamed("click")
    win = wait_for("the window of %s" % vm, lambda: details(a, vm), 30)[0]
    if not xml_text(win):
        win.child(name="Details", roleName="radio button").doActionNamed("click")
        tab = wait_for("the XML tab", lambda: [
            n for n in win.findChildren(
                lambda n: n.roleName == "page tab" and n.name == "XML")
            if n.showing], 30)[0]
        tab.select()
    return win, wait_for("the XML editor", lambda: xml_text(win), 30)[0]


def cmd_xml(vm, out):
    _, text = open_xml(app(), vm)
    write(out, text.text)


def cmd_edit_xml(vm, old, new):
    win, text = open_xml(app(), vm)
    xml = text.text
    if old not in xml:
        die("no %r in the XML editor" % old)
    text.text = xml.replace(old, new, 1)
    apply = win.child(name="config-apply", roleName="push button")
    wait_for("Apply enabled", lambda: apply.sensitive, 10)
    apply.doActionNamed("click")
    wait_for("Apply done", lambda: not apply.sensitive, 30)


COMMANDS = {
    "list": cmd_list,
    "start": cmd_start,
    "run": cmd_run,
    "close-dialog": cmd_close_dialog,
    "xml": cmd_xml,
    "edit-xml": cmd_edit_xml,
}

if __name__ == "__main__":
    if len(sys.argv) < 2 or sys.argv[1] not in COMMANDS:
        die("usage: vman-a11y.py list|start|run|close-dialog|xml|edit-xml ARGS...")
    COMMANDS[sys.argv[1]](*sys.argv[2:])
