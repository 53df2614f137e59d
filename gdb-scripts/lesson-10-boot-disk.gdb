# guest: lesson-10-boot-disk
# run: --real-mode
# disk: lesson-10-boot-disk.img
# exit: 0
# serial: boot: reading the kernel from the disk
# serial: kernel: kmain in 32-bit protected mode
# serial: kernel: disk "KVMSTUB ATA PIO DISK", 256 sectors
# serial: kernel: the record block is empty: the first boot from this disk
# serial: kernel: boot 1 recorded in sector 255
# boot-again: kernel: the record block says "written by boot 1"
# boot-again: kernel: boot 2 recorded in sector 255
# expect: The target architecture is set to "i8086".
# expect: The target architecture is set to "i386".
# Lesson 10 (examples/lesson-10-boot-disk/LESSON.md): kvmstub boots the disk's sector 0 as a BIOS would; the
# boot sector reads the kernel with ATA PIO in real mode, switches to protected mode, loads the kernel's ELF
# segments and jumps to it; the C kernel counts its boots in the disk's last sector.
set architecture i8086
x/2xb 0x7c00+510
expect_eq (*(short*)(0x7c00+510)&0xffff) 0xaa55 "the boot signature, at 0x7dfe"
x/3i read_kernel
# The load loop: READ SECTORS sent, the first status poll.
hbreak *wait_disk
continue
expect_eq $pc wait_disk "the first status poll"
info registers edx ebp
stepi
p/x $al
expect_eq ($al&0xff) 0x80 "BSY: the drive took the command"
continue
stepi
p/x $al
expect_eq ($al&0xff) 0x58 "DRDY DSC DRQ: the first sector is waiting"
delete
# The sectors as they land at 0x10000.
hbreak *sector_landed
continue
x/16xb 0x10000
expect_eq *(int*)0x10000 0x464c457f "the ELF magic landed at 0x10000"
info registers es edi ebp
expect_eq $edi 0x200 "di moved 512 bytes on"
expect_eq $ebp 64 "bp: 64 sectors to count (decremented next)"
continue
info registers edi ebp
expect_eq $edi 0x400 "the second sector at 0x10200"
expect_eq $ebp 63 "63 to go"
delete
# The mode switch.
hbreak *protected32
continue
info registers cr0 cs eip
expect_eq ($cr0&1) 1 "CR0.PE"
expect_eq $cs 8 "cs = the GDT's 32-bit code segment"
x/2i $pc
set architecture i386
x/2i $pc
hbreak *enter_kernel
continue
expect_eq $pc enter_kernel "the kernel's segments are in place"
p/x *(int*)(0x10000+0x18)
expect_eq *(int*)(0x10000+0x18) 0x100000 "e_entry: 1 MiB"
x/2i 0x100000
# The kernel's symbols, and C.
add-symbol-file examples/build/lesson-10-boot-disk-kernel.elf
break kmain
continue
expect_true $pc>=(int)&kmain&&$pc<(int)&kmain+16 "stopped in kmain"
bt
list
next
next
info locals
expect_eq sectors 256 "IDENTIFY: 256 sectors"
expect_true $_streq(model,"KVMSTUB\040ATA\040PIO\040DISK") "IDENTIFY: the model, its bytes swapped back"
break writesect
continue
bt
expect_eq lba 255 "the last sector"
p record
shell od -A d -t x1z -j 130560 -N 32 $KVMSTUB_DISK
finish
shell od -A d -t x1z -j 130560 -N 32 $KVMSTUB_DISK
next
next
p record.boots
next
p record.boots
expect_eq record.boots 1 "read back from the disk: boot 1"
delete
continue
