# guest: lesson-5-registers
# run: --no-sync-regs
# source: kvmstub.py
# exit: 42
# serial: rax changed by the debugger: 0x2a
# varies: KVM_GET_ONE_REG \d+
# Lesson 5's session with `kvmstub run --no-sync-regs` (examples/lesson-5-registers/LESSON.md, "Without
# SYNC_REGS"): the same script; its checks hold with and without KVM_CAP_SYNC_REGS.
source gdb-scripts/lesson-5-registers.gdb
