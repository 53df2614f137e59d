# guest: lesson-1-real-mode
# run: --real-mode --gdb-arch x86-64
# symbols: none
# exit: 55
# serial: sum=0x0037
# Lesson 1, "Why set architecture i8086 works here" (examples/lesson-1-real-mode/LESSON.md): the same boot
# sector offered to gdb with the 64-bit description. gdb refuses i8086 against it and decodes 64-bit code.
# No symbol file: the lesson's 32-bit ELF against 64-bit registers makes gdb reject the description.
set architecture i8086
x/2i $pc
expect_eq $pc 0x7c00 "stopped at the boot sector's first instruction"
expect_eq sizeof($pc) 8 "gdb kept the 64-bit registers"
continue
