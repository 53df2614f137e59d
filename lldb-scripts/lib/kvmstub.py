"""Commands for kvmstub's lldb scripts (lldb-scripts/run.sh loads this file into every lldb it runs).

    expect_true EXPRESSION ;; MESSAGE      PASS: MESSAGE when the expression is non-zero, else FAIL: (run.sh
                                           counts the PASS lines and fails on any FAIL line)
    interrupt_after SECONDS                continue, and Ctrl-C (`process interrupt`) after SECONDS; returns when
                                           the process has stopped again
    interrupt_until_changed EXPRESSION     interrupt_after 0.5 until EXPRESSION's value changes (at most 100
                                           rounds: on a busy host a round may end before the guest ran at all)
    expect_symbol_bytes SYMBOL OFFSET N    the N bytes at SYMBOL + OFFSET in guest memory are the symbol file's
                                           (so lldb's symbols are where the guest's code is: a KASLR slide applied)
    expect_slide SYMBOL                    SYMBOL's load address minus its file address is the slide kvmstub's
                                           `monitor kaslr` reports
    continue_until_each_stops TID…         continue until each listed thread (lldb's thread index = vCPU + 1) has
                                           been stopped by a breakpoint or watchpoint at least once, printing
                                           `thread list` at every stop (at most 50 stops)
    monitor COMMAND                        kvmstub's monitor command (qRcmd), its output as text (what lldb's
                                           `process plugin packet monitor` prints before its `packet:` and
                                           `response: OK` lines)
"""
import re
import time

import lldb


def _frame(debugger):
    return debugger.GetSelectedTarget().GetProcess().GetSelectedThread().GetSelectedFrame()


def expect_true(debugger, command, result, internal_dict):
    expression, _, message = command.partition(";;")
    expression, message = expression.strip(), message.strip() or command.strip()
    value = _evaluate(debugger, expression)
    if not value.GetError().Success():
        print("FAIL: %s: %s" % (message, value.GetError().GetCString()))
    elif value.GetValueAsUnsigned() != 0:
        print("PASS: %s" % message)
    else:
        print("FAIL: %s (%s is %s)" % (message, expression, value.GetValue()))


def _evaluate(debugger, expression):
    # As C: stopped in assembly (the entry, a kernel without line info) lldb 21 has no type system to evaluate in.
    options = lldb.SBExpressionOptions()
    options.SetLanguage(lldb.eLanguageTypeC)
    return _frame(debugger).EvaluateExpression(expression, options)


def interrupt_until_changed(debugger, command, result, internal_dict):
    expression = command.strip()
    first = _evaluate(debugger, expression).GetValueAsUnsigned()
    for rounds in range(1, 101):
        if not _interrupt_after(debugger, 0.5):
            return
        now = _evaluate(debugger, expression).GetValueAsUnsigned()
        if now != first:
            print("PASS: %s went from %d to %d, interrupted after %d round(s) of 0.5 s" % (expression, first, now, rounds))
            return
    print("FAIL: %s stayed %d through 100 rounds of continue and interrupt" % (expression, first))


def interrupt_after(debugger, command, result, internal_dict):
    _interrupt_after(debugger, float(command or "0.5"))


def _interrupt_after(debugger, seconds):
    process = debugger.GetSelectedTarget().GetProcess()
    debugger.SetAsync(True)
    try:
        error = process.Continue()
        if not error.Success():
            print("FAIL: continue: %s" % error.GetCString())
            return False
        time.sleep(seconds)
        error = process.Stop()
        if not error.Success():
            print("FAIL: process interrupt: %s" % error.GetCString())
            return False
        deadline = time.time() + 30
        while process.GetState() != lldb.eStateStopped and time.time() < deadline:
            time.sleep(0.05)
        if process.GetState() != lldb.eStateStopped:
            print("FAIL: the process did not stop within 30 s of the interrupt")
            return False
        return True
    finally:
        debugger.SetAsync(False)


def _symbol(target, name):
    symbols = target.FindSymbols(name)
    for context in symbols:
        symbol = context.GetSymbol()
        if symbol.IsValid() and symbol.GetStartAddress().IsValid():
            return symbol
    return None


def expect_symbol_bytes(debugger, command, result, internal_dict):
    name, offset, count = command.split()
    offset, count = int(offset, 0), int(count, 0)
    target = debugger.GetSelectedTarget()
    symbol = _symbol(target, name)
    if symbol is None:
        print("FAIL: no symbol %s" % name)
        return
    start = symbol.GetStartAddress()
    load = start.GetLoadAddress(target)
    section = start.GetSection()
    file_bytes = section.GetSectionData(start.GetOffset() + offset, count).ReadRawData(lldb.SBError(), 0, count)
    error = lldb.SBError()
    memory = target.GetProcess().ReadMemory(load + offset, count, error)
    if not error.Success():
        print("FAIL: reading %d bytes at %s+%d (0x%x): %s" % (count, name, offset, load + offset, error.GetCString()))
    elif memory != file_bytes:
        print("FAIL: the guest's bytes at %s+%d (0x%x) are not the symbol file's" % (name, offset, load + offset))
    else:
        print("PASS: %s+%d at 0x%x holds the symbol file's %d bytes" % (name, offset, load + offset, count))


def continue_until_each_stops(debugger, command, result, internal_dict):
    wanted = set(int(t) for t in command.split())
    process = debugger.GetSelectedTarget().GetProcess()
    seen = set()
    reasons = (lldb.eStopReasonBreakpoint, lldb.eStopReasonWatchpoint)
    for _ in range(50):
        if process.GetState() != lldb.eStateStopped:
            break
        for thread in process:
            if thread.GetStopReason() in reasons:
                seen.add(thread.GetIndexID())
        out = lldb.SBCommandReturnObject()
        debugger.GetCommandInterpreter().HandleCommand("thread list", out)
        print(out.GetOutput(), end="")
        if wanted <= seen:
            print("PASS: threads %s each stopped (seen: %s)" % (sorted(wanted), sorted(seen)))
            return
        process.Continue()
    print("FAIL: threads %s did not each stop (seen: %s, state %s)"
          % (sorted(wanted), sorted(seen), debugger.StateAsCString(process.GetState())))


def _monitor(debugger, command):
    out = lldb.SBCommandReturnObject()
    debugger.GetCommandInterpreter().HandleCommand("process plugin packet monitor " + command, out)
    text, _, reply = (out.GetOutput() or "").rpartition("  packet: ")
    m = re.search(r"response: ([0-9a-fA-F]*)\s*$", reply)
    if reply.rstrip().endswith("response: OK"):
        return text
    if m and m.group(1):  # a stub that answers with the hex text itself, as gdb prefers
        return text + bytes.fromhex(m.group(1)).decode("utf-8", "replace")
    return None


def monitor(debugger, command, result, internal_dict):
    text = _monitor(debugger, command)
    if text is None:
        print("FAIL: monitor %s: no reply" % command)
    else:
        print(text, end="")


def expect_slide(debugger, command, result, internal_dict):
    name = command.strip()
    target = debugger.GetSelectedTarget()
    symbol = _symbol(target, name)
    if symbol is None:
        print("FAIL: no symbol %s" % name)
        return
    load = symbol.GetStartAddress().GetLoadAddress(target)
    file_address = symbol.GetStartAddress().GetFileAddress()
    report = _monitor(debugger, "kaslr") or ""
    m = re.search(r"KASLR slide (0x[0-9a-f]+)", report)
    if not m:
        print("FAIL: monitor kaslr gave no slide: %s" % report)
        return
    slide = int(m.group(1), 16)
    print("slide=0x%x %s file=0x%x load=0x%x" % (slide, name, file_address, load))
    if load - file_address == slide:
        print("PASS: lldb moved %s by the KASLR slide 0x%x (qOffsets)" % (name, slide))
    else:
        print("FAIL: %s loaded at 0x%x, file address 0x%x: moved by 0x%x, not the slide 0x%x"
              % (name, load, file_address, load - file_address, slide))


def __lldb_init_module(debugger, internal_dict):
    for name in ("expect_true", "interrupt_after", "expect_symbol_bytes", "expect_slide", "monitor", "interrupt_until_changed",
                 "continue_until_each_stops"):
        debugger.HandleCommand("command script add -f %s.%s %s" % (__name__, name, name))
