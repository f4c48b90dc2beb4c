/* Boot code: Multiboot v1 header (a.out kludge), 32-bit entry that switches
 * to long mode, the application-processor trampoline (real mode -> long mode)
 * and the exception stubs.  AT&T syntax. */

    .set AP_MAX, 15                    /* application processors with a stack */
    .set MB_MAGIC, 0x1BADB002
    .set MB_FLAGS, 0x00010003          /* page-align, memory info, a.out kludge */

    .section .multiboot, "a"
    .p2align 2
multiboot_header:
    .long MB_MAGIC
    .long MB_FLAGS
    .long 0xE4514FFB                   /* -(MB_MAGIC + MB_FLAGS) */
    .long multiboot_header             /* header_addr */
    .long __image_start                /* load_addr */
    .long __load_end                   /* load_end_addr */
    .long __bss_end                    /* bss_end_addr */
    .long _start32                     /* entry_addr */

/* ---------------------------------------------------------------- BSP --- */
    .section .text.entry, "ax"
    .code32
    .globl _start32
_start32:
    cli
    cld
    movl %eax, mb_magic
    movl %ebx, mb_info
    movl $__stack_top, %esp

    /* Identity map 0..4 GiB with 2 MiB pages (4 page directories). */
    movl $pds, %edi
    movl $0x83, %edx                   /* present | writable | 2 MiB */
    xorl %ecx, %ecx
1:  movl %edx, (%edi)
    movl $0, 4(%edi)
    addl $8, %edi
    addl $0x200000, %edx
    incl %ecx
    cmpl $2048, %ecx
    jne 1b
    movl $pdpt, %edi
    movl $(pds + 3), %eax
    movl %eax, (%edi)
    addl $4096, %eax
    movl %eax, 8(%edi)
    addl $4096, %eax
    movl %eax, 16(%edi)
    addl $4096, %eax
    movl %eax, 24(%edi)
    movl $(pdpt + 3), %eax
    movl %eax, pml4

    movl %cr4, %eax
    orl $0x620, %eax                   /* PAE | OSFXSR | OSXMMEXCPT */
    movl %eax, %cr4
    movl $pml4, %eax
    movl %eax, %cr3
    movl $0xC0000080, %ecx             /* EFER */
    rdmsr
    orl $0x100, %eax                   /* LME */
    wrmsr
    movl %cr0, %eax
    andl $0xFFFFFFFB, %eax             /* no EM: SSE works */
    orl $0x80000023, %eax              /* PG | NE | MP | PE */
    movl %eax, %cr0
    lgdt gdt_ptr
    ljmp $0x08, $_start64

    .code64
_start64:
    movw $0x10, %ax
    movw %ax, %ds
    movw %ax, %es
    movw %ax, %ss
    xorw %ax, %ax
    movw %ax, %fs
    movw %ax, %gs
    movq $__stack_top, %rsp
    movl mb_magic, %edi
    movl mb_info, %esi
    call bsp_main
2:  cli
    hlt
    jmp 2b

/* ----------------------------------------------------------------- APs --- */
/* Started by SIPI at CS=ap_vector<<8, IP=0 in real mode; goes to long mode
 * in one step (PE and PG together, EFER.LME set) and far-jumps to
 * ap_start64.  The BSP copies this blob below 1 MiB and fills the three
 * data fields (GDT pointer, CR3, far pointer). */
    .section .rodata.ap, "a"
    .code16
    .globl ap_tramp_start
    .globl ap_tramp_end
    .globl ap_tramp_gdt
    .globl ap_tramp_cr3
    .globl ap_tramp_far
ap_tramp_start:
    cli
    cld
    movw %cs, %ax
    movw %ax, %ds
    lgdtl (ap_tramp_gdt - ap_tramp_start)
    movl %cr4, %eax
    orl $0x620, %eax
    movl %eax, %cr4
    movl (ap_tramp_cr3 - ap_tramp_start), %eax
    movl %eax, %cr3
    movl $0xC0000080, %ecx
    rdmsr
    orl $0x100, %eax
    wrmsr
    movl %cr0, %eax
    andl $0xFFFFFFFB, %eax
    orl $0x80000023, %eax
    movl %eax, %cr0
    ljmpl *(ap_tramp_far - ap_tramp_start)
    .p2align 3
ap_tramp_gdt:
    .word 0
    .long 0
    .p2align 2
ap_tramp_cr3:
    .long 0
ap_tramp_far:
    .long 0
    .word 0
ap_tramp_end:

    .section .text.entry, "ax"
    .code64
    .globl ap_start64
ap_start64:
    movw $0x10, %ax
    movw %ax, %ds
    movw %ax, %es
    movw %ax, %ss
    xorw %ax, %ax
    movw %ax, %fs
    movw %ax, %gs
    movl $1, %eax
    lock xaddl %eax, ap_next
    movl %eax, %edi                    /* this AP's index, 0-based */
    cmpl $AP_MAX, %eax
    jae 3f
    incl %eax
    shll $14, %eax                     /* 16 KiB stacks */
    addq $ap_stacks, %rax
    movq %rax, %rsp
    call ap_main
3:  cli
    hlt
    jmp 3b

/* ---------------------------------------------------------- exceptions --- */
    .macro ISR_NOERR n
isr\n:
    pushq $0
    pushq $\n
    jmp isr_common
    .endm
    .macro ISR_ERR n
isr\n:
    pushq $\n
    jmp isr_common
    .endm

    ISR_NOERR 0
    ISR_NOERR 1
    ISR_NOERR 2
    ISR_NOERR 3
    ISR_NOERR 4
    ISR_NOERR 5
    ISR_NOERR 6
    ISR_NOERR 7
    ISR_ERR 8
    ISR_NOERR 9
    ISR_ERR 10
    ISR_ERR 11
    ISR_ERR 12
    ISR_ERR 13
    ISR_ERR 14
    ISR_NOERR 15
    ISR_NOERR 16
    ISR_ERR 17
    ISR_NOERR 18
    ISR_NOERR 19
    ISR_NOERR 20
    ISR_ERR 21
    ISR_NOERR 22
    ISR_NOERR 23
    ISR_NOERR 24
    ISR_NOERR 25
    ISR_NOERR 26
    ISR_NOERR 27
    ISR_NOERR 28
    ISR_ERR 29
    ISR_ERR 30
    ISR_NOERR 31
    ISR_NOERR 32                       /* any other vector: spurious/unexpected interrupt */

/* NMI: the BSP wakes a halted AP with an NMI IPI; nothing to do here. */
    .globl nmi_stub
nmi_stub:
    iretq

isr_common:
    pushq %rax
    pushq %rbx
    pushq %rcx
    pushq %rdx
    pushq %rsi
    pushq %rdi
    pushq %rbp
    pushq %r8
    pushq %r9
    pushq %r10
    pushq %r11
    pushq %r12
    pushq %r13
    pushq %r14
    pushq %r15
    movq %rsp, %rdi
    andq $-16, %rsp
    call fault_handler
4:  cli
    hlt
    jmp 4b

    .section .rodata.isr, "a"
    .p2align 3
    .globl isr_table
isr_table:
    .quad isr0, isr1, isr2, isr3, isr4, isr5, isr6, isr7
    .quad isr8, isr9, isr10, isr11, isr12, isr13, isr14, isr15
    .quad isr16, isr17, isr18, isr19, isr20, isr21, isr22, isr23
    .quad isr24, isr25, isr26, isr27, isr28, isr29, isr30, isr31
    .quad isr32

/* ---------------------------------------------------------------- data --- */
    .section .data.gdt, "aw"
    .p2align 3
gdt:
    .quad 0
    .quad 0x00AF9A000000FFFF           /* 0x08: 64-bit code */
    .quad 0x00CF92000000FFFF           /* 0x10: data */
    .quad 0x00CF9A000000FFFF           /* 0x18: 32-bit code */
gdt_end:
    .p2align 3
    .globl gdt_ptr
gdt_ptr:
    .word gdt_end - gdt - 1
    .long gdt
    .long 0

    .section .bss.boot, "aw", @nobits
    .p2align 12
    .globl pml4
pml4:   .skip 4096
pdpt:   .skip 4096
pds:    .skip 4 * 4096
    .p2align 4
    .skip 65536
__stack_top:
    .globl ap_stacks
ap_stacks:
    .skip 16384 * AP_MAX
    .globl ap_next
ap_next: .skip 4
mb_magic: .skip 4
mb_info:  .skip 4
