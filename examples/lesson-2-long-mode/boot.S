/*
 * Lesson 2: from real mode to long mode, and the page tables the walk reads.
 *
 * `kvmstub run --real-mode` starts this at 0000:7c00 in 16-bit real mode (like lesson 1). It climbs the
 * three modes a PC boots through, printing a line in each:
 *
 *   real16      16-bit real mode: cs * 16 + ip, no paging. Loads a GDT and sets CR0.PE.
 *   protected32 32-bit protected mode, flat segments, still no paging. Builds 4 KiB page tables:
 *                 - the first 2 MiB identity-mapped (PML4[0] -> PDPT -> PD -> one page table),
 *                 - the higher-half page 0xffff800000000000 mapped to guest-physical 0x20000
 *                   (PML4[256] -> its own PDPT, PD and page table): one page, two addresses.
 *               Then CR4.PAE, CR3, EFER.LME (wrmsr), CR0.PG: the CPU is in long mode (EFER.LMA),
 *               still running 32-bit code (compatibility mode) until the far jump.
 *   long64      64-bit mode. Writes a message through the higher-half address and prints it back from the
 *               identity-mapped physical page: the same bytes.
 *
 * Exits with 0 when the two views agree, 1 when they do not.
 */
        .set    PML4,       0x10000
        .set    PDPT_LOW,   0x11000
        .set    PD_LOW,     0x12000
        .set    PT_LOW,     0x13000
        .set    PDPT_HIGH,  0x14000
        .set    PD_HIGH,    0x15000
        .set    PT_HIGH,    0x16000
        .set    WINDOW,     0x20000         /* the physical page behind the higher-half address */
        .set    PRESENT_RW, 3

        .set    CODE32, 0x08
        .set    DATA,   0x10
        .set    CODE64, 0x18

        .section .text
        .code16
        .globl  _start, real16
_start:
real16:
        cli
        xor     %ax, %ax
        mov     %ax, %ds
        mov     %ax, %ss
        mov     $0x7c00, %sp
        mov     $msg_real, %si
2:      lodsb                           /* puts, 16-bit */
        test    %al, %al
        jz      3f
        mov     $0x3f8, %dx
        out     %al, %dx
        jmp     2b
3:      lgdtl   gdt_descriptor
        mov     %cr0, %eax
        or      $1, %eax                /* PE */
        mov     %eax, %cr0
        ljmpl   $CODE32, $protected32

        .code32
        .globl  protected32
protected32:
        mov     $DATA, %ax
        mov     %ax, %ds
        mov     %ax, %es
        mov     %ax, %ss
        mov     $0x7c00, %esp
        mov     $msg_protected, %esi
        call    puts32

        /* Seven zeroed page-table pages. */
        mov     $PML4, %edi
        xor     %eax, %eax
        mov     $(7 * 1024), %ecx
        rep stosl

        movl    $(PDPT_LOW | PRESENT_RW), PML4
        movl    $(PD_LOW | PRESENT_RW), PDPT_LOW
        movl    $(PT_LOW | PRESENT_RW), PD_LOW
        /* PT_LOW[i] = i * 4 KiB: the first 2 MiB, virtual == physical. */
        mov     $PT_LOW, %edi
        mov     $PRESENT_RW, %eax
        mov     $512, %ecx
4:      mov     %eax, (%edi)
        add     $0x1000, %eax
        add     $8, %edi
        loop    4b

        /* 0xffff800000000000: PML4 index 256, every lower index 0. */
        movl    $(PDPT_HIGH | PRESENT_RW), PML4 + 256 * 8
        movl    $(PD_HIGH | PRESENT_RW), PDPT_HIGH
        movl    $(PT_HIGH | PRESENT_RW), PD_HIGH
        movl    $(WINDOW | PRESENT_RW), PT_HIGH

        .globl  enable_paging
enable_paging:
        mov     %cr4, %eax
        or      $(1 << 5), %eax         /* PAE: 64-bit entries, needed for long mode */
        mov     %eax, %cr4
        mov     $PML4, %eax
        mov     %eax, %cr3
        mov     $0xc0000080, %ecx       /* EFER */
        rdmsr
        or      $(1 << 8), %eax         /* LME */
        wrmsr
        mov     %cr0, %eax
        or      $(1 << 31), %eax        /* PG: with LME set, the CPU sets EFER.LMA */
        mov     %eax, %cr0
        ljmp    $CODE64, $long64

puts32:
        mov     $0x3f8, %dx
5:      lodsb
        test    %al, %al
        jz      6f
        out     %al, %dx
        jmp     5b
6:      ret

        .code64
        .globl  long64
long64:
        mov     $msg_long, %rsi
        call    puts64
        /* Write through the higher half... */
        movabs  $0xffff800000000000, %rdi
        mov     $msg_window, %rsi
        .globl  write_high
write_high:
        lodsb
        stosb
        test    %al, %al
        jnz     write_high
        /* ...and read it back through the identity mapping of the physical page. */
        .globl  read_low
read_low:
        mov     $WINDOW, %rsi
        call    puts64
        movabs  $0xffff800000000000, %rsi
        mov     $WINDOW, %rdi
        mov     $16, %ecx
        repe cmpsb
        setne   %al
        out     %al, $0xf4              /* 0: both addresses showed the same bytes */
7:      hlt
        jmp     7b

puts64:
        mov     $0x3f8, %dx
8:      lodsb
        test    %al, %al
        jz      9f
        out     %al, %dx
        jmp     8b
9:      ret

        .p2align 3
gdt:
        .quad   0                       /* null */
        .quad   0x00cf9a000000ffff      /* 0x08: 32-bit code, base 0, 4 GiB */
        .quad   0x00cf92000000ffff      /* 0x10: data, base 0, 4 GiB */
        .quad   0x00af9a000000ffff      /* 0x18: 64-bit code (L = 1) */
gdt_descriptor:
        .word   gdt_descriptor - gdt - 1
        .long   gdt

msg_real:       .asciz "real16: cs:ip 0000:7c00, no paging\r\n"
msg_protected:  .asciz "protected32: CR0.PE, flat segments, no paging\r\n"
msg_long:       .asciz "long64: EFER.LMA, four-level paging\r\n"
msg_window:     .asciz "written at 0xffff800000000000, read at physical 0x20000\r\n"
