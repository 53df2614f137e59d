# guest: lesson-2-long-mode
# run: --real-mode --gdb-arch x86-64
# exit: 0
# serial: real16: cs:ip 0000:7c00, no paging
# serial: protected32: CR0.PE, flat segments, no paging
# serial: long64: EFER.LMA, four-level paging
# serial: written at 0xffff800000000000, read at physical 0x20000
# expect: paging is off: 0x7c00 is guest-physical 0x7c00
# expect: [ PE ET ]
# expect: [ PE ET PG ]
# expect: [ LME LMA ]
# expect: PML4E at 0x10800 = 0x140
# expect: PTE at 0x16000 = 0x200
# expect: 0xffff800000000000 -> guest-physical 0x20000 (4 KiB page)
# expect: 0x400000 is not mapped
# Lesson 2 (examples/lesson-2-long-mode/LESSON.md): real mode -> protected mode -> long mode, watching CR0,
# CR4, EFER and CS change, then the guest's own four-level page tables through `monitor translate`.
info registers rip cs cr0 cr3 cr4 efer
expect_eq ($cr0&1) 0 "real mode: CR0.PE clear"
monitor translate 0x7c00
hbreak *protected32
hbreak *enable_paging
hbreak *long64
hbreak *read_low
continue
info registers rip cs cr0 efer
expect_eq $pc protected32 "in 32-bit protected mode"
expect_eq ($cr0&0x80000001) 1 "CR0.PE set, CR0.PG clear"
expect_eq $cs 8 "cs = 0x08, the GDT's 32-bit code segment"
monitor translate 0x7c00
continue
expect_eq $pc enable_paging "page tables built, paging not yet on"
x/2gx 0x10000
p/x *(long*)(0x10000+256*8)
expect_eq *(long*)0x10000 0x11003 "PML4[0] -> the low PDPT, present and writable"
expect_eq *(long*)(0x10000+256*8) 0x14003 "PML4[256] -> the higher-half PDPT"
continue
info registers rip cs cr0 cr3 cr4 efer
expect_eq $pc long64 "in 64-bit mode"
expect_eq $efer 0x500 "EFER: LME (set by the guest) and LMA (set by the CPU)"
expect_eq $cr3 0x10000 "CR3 = the guest's PML4"
expect_eq ($cr4&0x20) 0x20 "CR4.PAE"
x/2i $pc
monitor translate 0xffff800000000000
monitor translate 0x7c00
monitor translate 0x400000
continue
expect_eq $pc read_low "the message is written"
x/s 0xffff800000000000
x/s 0x20000
expect_eq *(long*)0xffff800000000000 *(long*)0x20000 "one page, two addresses: the same bytes"
monitor translate 0xffff800000000000
delete
continue
