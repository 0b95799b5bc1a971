/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * vlan-capture IFACE SECONDS: a tiny packet capture for the VLAN lab
 * (ci/vlan-lab), linked statically so that the lab's initramfs needs no
 * libraries for it.  Prints one line per frame seen on IFACE:
 *
 *     in vid=101 type=0x0800 proto=1 src=192.168.77.11 dst=192.168.77.21
 *     out vid=none type=0x86dd
 *
 * The kernel moves a received 802.1Q tag out of the frame into the
 * packet's metadata (and veth transmits with the tag there too), so a raw
 * socket sees the tag in PACKET_AUXDATA (tp_vlan_tci, TP_STATUS_VLAN_VALID),
 * as libpcap reconstructs it for tcpdump; a tag still inline (ethertype
 * 0x8100) is read from the frame.  vid=none: the frame carried no tag.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <net/if.h>
#include <poll.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <linux/if_ether.h>
#include <linux/if_packet.h>

static int64_t
now_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t) ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void
print_frame(const uint8_t *f, size_t len, int outgoing, int vid)
{
    unsigned type;
    size_t off = 12;
    char src[INET_ADDRSTRLEN] = "", dst[INET_ADDRSTRLEN] = "";

    if (len < 14)
        return;
    type = (unsigned) f[off] << 8 | f[off + 1];
    if (vid < 0 && (type == ETH_P_8021Q || type == ETH_P_8021AD) && len >= 18) {
        vid = ((f[14] << 8) | f[15]) & 0xfff;
        off += 4;
        type = (unsigned) f[off] << 8 | f[off + 1];
    }
    printf("%s vid=", outgoing ? "out" : "in");
    if (vid < 0)
        printf("none");
    else
        printf("%d", vid);
    printf(" type=0x%04x", type);
    if (type == ETH_P_IP && len >= off + 2 + 20) {
        const uint8_t *ip = f + off + 2;

        inet_ntop(AF_INET, ip + 12, src, sizeof(src));
        inet_ntop(AF_INET, ip + 16, dst, sizeof(dst));
        printf(" proto=%u src=%s dst=%s", ip[9], src, dst);
    } else if (type == ETH_P_ARP && len >= off + 2 + 28) {
        const uint8_t *arp = f + off + 2;

        inet_ntop(AF_INET, arp + 14, src, sizeof(src));
        inet_ntop(AF_INET, arp + 24, dst, sizeof(dst));
        printf(" arp=%s src=%s dst=%s", arp[7] == 1 ? "request" : "reply", src, dst);
    }
    putchar('\n');
}

int
main(int argc, char **argv)
{
    struct sockaddr_ll sll = { .sll_family = AF_PACKET };
    int fd, one = 1;
    unsigned idx;
    int64_t end;

    if (argc != 3) {
        fprintf(stderr, "usage: vlan-capture IFACE SECONDS\n");
        return 2;
    }
    idx = if_nametoindex(argv[1]);
    if (!idx) {
        fprintf(stderr, "vlan-capture: %s: %s\n", argv[1], strerror(errno));
        return 2;
    }
    fd = socket(AF_PACKET, SOCK_RAW, htons(ETH_P_ALL));
    if (fd < 0) {
        perror("vlan-capture: socket");
        return 2;
    }
    sll.sll_protocol = htons(ETH_P_ALL);
    sll.sll_ifindex = (int) idx;
    if (bind(fd, (struct sockaddr *) &sll, sizeof(sll)) < 0 ||
        setsockopt(fd, SOL_PACKET, PACKET_AUXDATA, &one, sizeof(one)) < 0) {
        perror("vlan-capture: bind");
        return 2;
    }
    setvbuf(stdout, NULL, _IOLBF, 0);
    fprintf(stderr, "vlan-capture: listening on %s\n", argv[1]);
    end = now_ms() + atoi(argv[2]) * 1000;
    for (;;) {
        uint8_t frame[65536];
        union {
            struct cmsghdr align;
            char buf[CMSG_SPACE(sizeof(struct tpacket_auxdata))];
        } control;
        struct sockaddr_ll from;
        struct iovec iov = { frame, sizeof(frame) };
        struct msghdr msg = {
            .msg_name = &from, .msg_namelen = sizeof(from),
            .msg_iov = &iov, .msg_iovlen = 1,
            .msg_control = control.buf, .msg_controllen = sizeof(control.buf),
        };
        struct pollfd pfd = { .fd = fd, .events = POLLIN };
        int64_t left = end - now_ms();
        int vid = -1;
        ssize_t n;

        if (left <= 0)
            break;
        if (poll(&pfd, 1, (int) left) <= 0)
            continue;
        n = recvmsg(fd, &msg, MSG_DONTWAIT);
        if (n < 0)
            continue;
        for (struct cmsghdr *c = CMSG_FIRSTHDR(&msg); c; c = CMSG_NXTHDR(&msg, c)) {
            const struct tpacket_auxdata *aux;

            if (c->cmsg_level != SOL_PACKET || c->cmsg_type != PACKET_AUXDATA)
                continue;
            aux = (const struct tpacket_auxdata *) CMSG_DATA(c);
            if (aux->tp_status & TP_STATUS_VLAN_VALID)
                vid = aux->tp_vlan_tci & 0x0fff;
        }
        print_frame(frame, (size_t) n, from.sll_pkttype == PACKET_OUTGOING, vid);
    }
    return 0;
}
