/*
 * relay-ceiling: the simplest possible TCP relays in C, to measure what any relay on the proxy's CPU can reach in
 * compare.sh's l4-bulk layout (iperf3 client and server on one CPU, the relay on the other). Not part of Ferry.
 *
 *   gcc -O2 -pthread -o /tmp/relay-ceiling benchmarks/tools/relay-ceiling.c
 *   taskset -c 0 /tmp/relay-ceiling splice 127.0.10.20 23301 127.0.10.10 23202 &   # or: copy
 *   taskset -c 1 iperf3 -c 127.0.10.20 -p 23301 -t 5
 *
 * MODE copy: two blocking threads per connection, read(2)/write(2) of 64 KiB. MODE splice: splice(2) through a
 * 1 MiB pipe, no user-space copy. RB/SB in the environment set SO_RCVBUF/SO_SNDBUF on both legs (bytes).
 * Listens on loopback only; one upstream; no timeouts, no error handling beyond closing: a measuring stick.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

static int splice_mode;

struct conn {
    int client, upstream;
    atomic_int halves; /* pumps still running; the last one closes both sockets */
};

struct pump {
    struct conn *conn;
    int in, out;
};

static void *pump(void *arg) {
    struct pump *p = arg;
    if (splice_mode) {
        int pipefd[2];
        if (pipe2(pipefd, 0) == 0) {
            fcntl(pipefd[1], F_SETPIPE_SZ, 1 << 20);
            for (;;) {
                ssize_t n = splice(p->in, NULL, pipefd[1], NULL, 1 << 20, SPLICE_F_MOVE);
                if (n <= 0) break;
                while (n > 0) {
                    ssize_t m = splice(pipefd[0], NULL, p->out, NULL, (size_t) n, SPLICE_F_MOVE);
                    if (m <= 0) goto done;
                    n -= m;
                }
            }
        done:
            close(pipefd[0]);
            close(pipefd[1]);
        }
    } else {
        char *buf = malloc(65536);
        for (;;) {
            ssize_t n = read(p->in, buf, 65536);
            if (n <= 0) break;
            for (char *b = buf; n > 0;) {
                ssize_t m = write(p->out, b, (size_t) n);
                if (m <= 0) goto out;
                n -= m;
                b += m;
            }
        }
    out:
        free(buf);
    }
    shutdown(p->out, SHUT_WR);
    if (atomic_fetch_sub(&p->conn->halves, 1) == 1) {
        close(p->conn->client);
        close(p->conn->upstream);
        free(p->conn);
    }
    free(p);
    return NULL;
}

static void buffers(int fd) {
    const char *rb = getenv("RB"), *sb = getenv("SB");
    int one = 1;
    if (rb) { int v = atoi(rb); setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &v, sizeof v); }
    if (sb) { int v = atoi(sb); setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &v, sizeof v); }
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
}

static void start(struct conn *c, int in, int out) {
    struct pump *p = malloc(sizeof *p);
    pthread_t t;
    p->conn = c;
    p->in = in;
    p->out = out;
    pthread_create(&t, NULL, pump, p);
    pthread_detach(t);
}

int main(int argc, char **argv) {
    if (argc != 6 || (strcmp(argv[1], "copy") != 0 && strcmp(argv[1], "splice") != 0)) {
        fprintf(stderr, "usage: %s copy|splice LISTEN_IP LISTEN_PORT TO_IP TO_PORT\n", argv[0]);
        return 2;
    }
    signal(SIGPIPE, SIG_IGN);
    splice_mode = strcmp(argv[1], "splice") == 0;
    struct sockaddr_in listen_at = {.sin_family = AF_INET, .sin_port = htons((uint16_t) atoi(argv[3]))};
    struct sockaddr_in to = {.sin_family = AF_INET, .sin_port = htons((uint16_t) atoi(argv[5]))};
    if (inet_pton(AF_INET, argv[2], &listen_at.sin_addr) != 1 || inet_pton(AF_INET, argv[4], &to.sin_addr) != 1
        || (ntohl(listen_at.sin_addr.s_addr) >> 24) != 127 || (ntohl(to.sin_addr.s_addr) >> 24) != 127) {
        fprintf(stderr, "both addresses must be IPv4 loopback (127.0.0.0/8)\n");
        return 2;
    }
    int ls = socket(AF_INET, SOCK_STREAM, 0), one = 1;
    setsockopt(ls, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    if (bind(ls, (struct sockaddr *) &listen_at, sizeof listen_at) || listen(ls, 16)) {
        perror("listen");
        return 1;
    }
    for (;;) {
        int client = accept(ls, NULL, NULL);
        if (client < 0) continue;
        int upstream = socket(AF_INET, SOCK_STREAM, 0);
        buffers(client);
        buffers(upstream);
        if (connect(upstream, (struct sockaddr *) &to, sizeof to)) {
            perror("connect");
            close(client);
            close(upstream);
            continue;
        }
        struct conn *c = malloc(sizeof *c);
        c->client = client;
        c->upstream = upstream;
        atomic_init(&c->halves, 2);
        start(c, client, upstream);
        start(c, upstream, client);
    }
}
