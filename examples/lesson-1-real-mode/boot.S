/*
 * Lesson 1: a 16-bit real-mode boot sector, started by `kvmstub run --real-mode` at 0000:7c00 the way a PC
 * BIOS hands over (cs = ds = ss = 0, sp = 0x7c00, dl = the boot drive). There is no BIOS behind it: no
 * `int 0x10`, so it writes to the serial port (0x3f8) itself and ends the run through the exit port (0xf4).
 *
 * It prints a banner, makes a far call into the same bytes through another segment (cs = 0x07c0, where ip
 * counts from 0 instead of 0x7c00), then adds 1 + 2 + ... + `count`, prints the sum in hex and exits with
 * its low byte: 55 (0x37) as built, something else when gdb changes `count`.
 *
 * Built by examples/build.sh: assembled and linked at 0x7c00 as a 32-bit ELF, lesson-1-real-mode.elf (gdb's
 * symbols: linear addresses, cs * 16 + ip), then cut to the raw 512 bytes, lesson-1-real-mode.bin.
 */
        .code16
        .section .text
        .globl  _start
_start:
        cli
        xor     %ax, %ax
        mov     %ax, %ds
        mov     %ax, %es
        mov     %ax, %ss
        mov     $0x7c00, %sp        /* the stack grows down from just below the boot sector */
        mov     $banner, %si        /* ds = 0: an offset is a linear address */
        call    puts

        /* The same bytes through another segment: linear = cs * 16 + ip = 0x7c00 + (far - _start). */
        .globl  farcall
farcall:
        lcall   $0x07c0, $(far - _start)

        mov     count, %cx          /* how many terms: gdb may have changed it */
        xor     %ax, %ax
        xor     %dx, %dx
        .globl  sum
sum:
        inc     %dx
        add     %dx, %ax
        loop    sum
        .globl  done
done:
        mov     %ax, result
        mov     %ax, %bx
        mov     $sumtext, %si
        call    puts
        call    puthex
        mov     $newline, %si
        call    puts
        mov     %bl, %al
        out     %al, $0xf4          /* exit status: the sum's low byte */
1:      hlt
        jmp     1b

/* Runs with cs = ds = 0x07c0: every offset counts from 0x7c00, not from 0. */
        .globl  far
far:
        push    %ds
        mov     %cs, %ax
        mov     %ax, %ds
        mov     $(fartext - _start), %si
        call    puts
        pop     %ds
        lret

/* puts: print the NUL-terminated string at ds:si (a near call: it works in either segment). */
        .globl  puts
puts:
        mov     $0x3f8, %dx
2:      lodsb
        test    %al, %al
        jz      3f
        out     %al, %dx
        jmp     2b
3:      ret

/* puthex: print bx as 0x and four hex digits. */
        .globl  puthex
puthex:
        mov     $0x3f8, %dx
        mov     $'0', %al
        out     %al, %dx
        mov     $'x', %al
        out     %al, %dx
        mov     $4, %cx
4:      rol     $4, %bx
        mov     %bl, %al
        and     $0xf, %al
        add     $'0', %al
        cmp     $'9', %al
        jbe     5f
        add     $('a' - '0' - 10), %al
5:      out     %al, %dx
        loop    4b
        ret

banner:  .asciz "boot: real mode at 0000:7c00\r\n"
fartext: .asciz "far: cs=07c0, so ip counts from linear 0x7c00\r\n"
sumtext: .asciz "sum="
newline: .asciz "\r\n"
        .globl  count
count:   .word  10                  /* how many terms: set it from gdb */
        .globl  result
result:  .word  0

        .org    510
        .word   0xaa55              /* the boot signature a BIOS checks */
