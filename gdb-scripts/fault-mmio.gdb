# guest: faults-mode2
# exit: 2
# serial: faults: mode=2
# serial: mmio write ignored
# expect: kvmstub: write to guest-physical 0xf0000000, which no memory slot covers, by the instruction just before rip 0x
# expect: Program received signal SIGBUS
# expect: in write_outside_ram () at
# expect: exited with code 02
# A 4-byte store to guest-physical 0xF0000000 (identity-mapped, but no memory slot: KVM_EXIT_MMIO) is a stop gdb
# understands: SIGBUS, the address as console output, one line on kvmstub's stderr. KVM has already finished the
# instruction (rip is past the store, and the line says "by the instruction just before rip"). Registers and memory read afterwards; continuing drops the write and the
# guest goes on to exit with status 2.
continue
expect_true ($pc>write_outside_ram&&$pc<main) "stopped in write_outside_ram"
expect_eq $rax 0xf0000000 "rax holds the address written"
expect_eq mode 2 "guest memory reads after the fault"
set $code = *(unsigned char *)write_outside_ram
expect_eq $code 0xb8 "code reads after the fault (mov eax, imm32)"
info registers rip rax
continue
