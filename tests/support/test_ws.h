/* test_ws.h - a small RFC 6455 client on a plain socket, for tests of GET /api/ws.
 *
 * Blocking, one socket, no thread: the test drives it. Client frames are masked (as RFC 6455
 * requires of clients); server frames are read whole, pings answered with pongs unless the client
 * is told to stay silent (a dead peer, for the server's ping timeout).
 *
 * SPDX-License-Identifier: MIT
 */
#ifndef OFFERD_TEST_WS_H
#define OFFERD_TEST_WS_H

#include <stdbool.h>
#include <stddef.h>

#define WS_OP_TEXT 1
#define WS_OP_BINARY 2
#define WS_OP_CLOSE 8
#define WS_OP_PING 9
#define WS_OP_PONG 10

struct ws_client;

/* What the handshake sends; every field may be NULL/0 for the usual: a fresh random key, version
 * 13, no Origin, no token, the Upgrade and Connection fields. */
struct ws_open_options {
    const char *token;          /* Authorization: Bearer TOKEN */
    const char *cookie;         /* Cookie: VALUE (e.g. "__session=TOKEN") */
    const char *origin;         /* Origin: VALUE */
    const char *key;            /* Sec-WebSocket-Key: VALUE instead of a random one */
    const char *version;        /* Sec-WebSocket-Version: VALUE instead of 13 ("" leaves it out) */
    bool no_upgrade;            /* leave out Upgrade and Connection: Upgrade */
    int rcvbuf;                 /* SO_RCVBUF before connecting (a slow reader), 0: the default */
};

/* Connects to 127.0.0.1:PORT and sends the handshake for /api/ws. Returns the response status
 * (101: *out is the open client, its Sec-WebSocket-Accept checked; else *out is NULL and the
 * response's head and body are in *response when that is not NULL, heap, free()), or -1 when
 * nothing came back. */
int ws_open(int port, const struct ws_open_options *o, struct ws_client **out, char **response);

#define WS_OP_CONTINUATION 0

/* One frame as the client writes it, valid or not (for the protocol conformance tests). */
struct ws_frame {
    bool fin;
    int rsv;                    /* RSV1..3 as bits 4,2,1 (0: none) */
    int opcode;                 /* any 0..15, reserved ones too */
    bool unmasked;              /* leave out the mask (a client must not) */
    bool long_length;           /* the 64-bit length form even for a short payload */
    const void *data;
    size_t len;
};

/* Encodes COUNT frames into one buffer and writes it: all at once when piece is 0, else PIECE
 * bytes at a time with pause_ms between writes (the server sees partial frames). 0 or -1. */
int ws_send_frames(struct ws_client *c, const struct ws_frame *frames, size_t count, size_t piece,
                   int pause_ms);

/* Sends one masked frame (fin set) with opcode and payload; 0 or -1. */
int ws_send_frame(struct ws_client *c, int opcode, const void *data, size_t len);

/* Sends a text message; 0 or -1. */
int ws_send_text(struct ws_client *c, const char *text);

/* Waits up to timeout_ms for the next data or close frame (pings are answered, unless silent,
 * and skipped). Returns its opcode with the payload in *payload (heap, NUL-terminated, free())
 * and *len; 0 on timeout; -1 when the connection ended without a close frame. */
int ws_recv(struct ws_client *c, int timeout_ms, char **payload, size_t *len);

/* Waits up to timeout_ms for the next frame of any kind, pings and pongs included (not answered).
 * Returns its opcode (payload as ws_recv), 0 on timeout, -1 when the connection ended. */
int ws_recv_frame(struct ws_client *c, int timeout_ms, char **payload, size_t *len);

/* Waits up to timeout_ms for a text message containing needle; returns it (heap, free()) or
 * NULL. Other messages in between are skipped (and counted in ws_skipped). */
char *ws_wait_text(struct ws_client *c, const char *needle, int timeout_ms);

/* Waits up to timeout_ms for the server's close frame: returns its code (0 when it had none),
 * reason copied into *reason (heap, may be NULL); -1 on a timeout or a connection ended without
 * one. Answers it with a close of the same code. Messages before it are skipped. */
int ws_wait_close(struct ws_client *c, int timeout_ms, char **reason);

/* Whether the server ended the connection (EOF) within timeout_ms, reading and dropping
 * whatever came before. */
bool ws_wait_eof(struct ws_client *c, int timeout_ms);

/* Messages ws_wait_text/ws_wait_close skipped so far. */
size_t ws_skipped(const struct ws_client *c);

/* Stops answering pings (a peer that went silent). */
void ws_set_silent(struct ws_client *c, bool silent);

/* The socket (to shut it down or stop reading). */
int ws_fd(const struct ws_client *c);

/* Closes the socket without a close frame and frees c. NULL is a no-op. */
void ws_free(struct ws_client *c);

#endif
