/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* A "libvirt" with two functions and no others, for test-virt-dl-partial:
 * what labels/cli/virt-dl.c does when libvirt.so.0 lacks a function. */
int virInitialize(void);
void *virGetLastError(void);

int
virInitialize(void)
{
    return 0;
}

void *
virGetLastError(void)
{
    return 0;
}
