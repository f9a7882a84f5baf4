/* ws_frame_bench.c - throughput of the websocket frame codec (src/transport/ws_frame.h).
 *
 * Build by hand (not part of CMake):
 *   cc -O2 -std=gnu11 -Isrc -DNDEBUG bench/ws_frame_bench.c src/transport/ws_frame.c \
 *      -o /tmp/ws_frame_bench && /tmp/ws_frame_bench
 *
 * Prints GB/s for: word-wise masking in place, masked copy, a naive per-byte mask loop
 * (what lws 4.1.6 does) for the ratio, and parsing 64 KiB frames through the reassembler
 * (unmasked as a client receives them, and masked as a server does, which includes the
 * unmasking). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "transport/ws_frame.h"

#define FRAME_PAYLOAD (64 * 1024)
#define BUF_SIZE (1024 * 1024)

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static volatile uint8_t sink;

static void naive_mask(uint8_t *buf, size_t len, const uint8_t key[4], size_t off)
{
    size_t i;
    for (i = 0; i < len; i++)
        buf[i] ^= key[(off + i) & 3];
}

/* Run the body over `bytes_per_round` repeatedly for ~0.5 s; GB/s. */
#define MEASURE(label, bytes_per_round, ...)                                                       \
    do {                                                                                           \
        double t0 = now_s(), t;                                                                    \
        unsigned long rounds = 0;                                                                  \
        do {                                                                                       \
            __VA_ARGS__;                                                                           \
            rounds++;                                                                              \
            t = now_s() - t0;                                                                      \
        } while (t < 0.5);                                                                         \
        printf("%-44s %7.2f GB/s\n", label, (double)(bytes_per_round)*rounds / t / 1e9);           \
    } while (0)

int main(void)
{
    uint8_t *src = malloc(BUF_SIZE + 8), *dst = malloc(BUF_SIZE + 8);
    const uint8_t key[4] = { 0x37, 0xfa, 0x21, 0x3d };
    size_t i, nframes = 16, flen;
    uint8_t *frames_plain, *frames_masked, *work;
    struct rd_ws_reasm *rc = rd_ws_reasm_new(RD_WS_ROLE_CLIENT, 0);
    struct rd_ws_reasm *rs = rd_ws_reasm_new(RD_WS_ROLE_SERVER, 0);

    for (i = 0; i < BUF_SIZE + 8; i++)
        src[i] = (uint8_t)(i * 131);

    MEASURE("rd_ws_mask (in place, 1 MiB, aligned)", BUF_SIZE, rd_ws_mask(src, BUF_SIZE, key, 0));
    MEASURE("rd_ws_mask (in place, 1 MiB, offset 3)", BUF_SIZE,
            rd_ws_mask(src + 3, BUF_SIZE, key, 1));
    MEASURE("rd_ws_mask_copy (1 MiB, src+1 -> dst+5)", BUF_SIZE,
            rd_ws_mask_copy(dst + 5, src + 1, BUF_SIZE, key, 2));
    MEASURE("rd_ws_mask_copy (64 KiB)", FRAME_PAYLOAD,
            rd_ws_mask_copy(dst, src, FRAME_PAYLOAD, key, 0));
    MEASURE("naive per-byte mask (1 MiB) [reference]", BUF_SIZE, naive_mask(src, BUF_SIZE, key, 0));
    sink = dst[17] ^ src[9];

    /* 16 frames of 64 KiB payload each, back to back */
    flen = RD_WS_MAX_HEADER + FRAME_PAYLOAD;
    frames_plain = malloc(nframes * flen);
    frames_masked = malloc(nframes * flen);
    work = malloc(nframes * flen);
    {
        size_t np = 0, nm = 0;
        for (i = 0; i < nframes; i++) {
            np += rd_ws_frame_encode_header(frames_plain + np, 1, RD_WS_OP_BINARY, FRAME_PAYLOAD,
                                            NULL);
            memcpy(frames_plain + np, src, FRAME_PAYLOAD);
            np += FRAME_PAYLOAD;
            nm += rd_ws_frame_encode_header(frames_masked + nm, 1, RD_WS_OP_BINARY, FRAME_PAYLOAD,
                                            key);
            rd_ws_mask_copy(frames_masked + nm, src, FRAME_PAYLOAD, key, 0);
            nm += FRAME_PAYLOAD;
        }
        MEASURE("parse 64 KiB frames, unmasked (zero-copy)", (double)nframes * FRAME_PAYLOAD, {
            size_t pos = 0, used;
            struct rd_ws_event ev;
            while (pos < np) {
                if (rd_ws_reasm_parse(rc, frames_plain + pos, np - pos, &used, &ev) != RD_WS_OK)
                    abort();
                sink ^= ev.data[0];
                pos += used;
            }
        });
        /* masked frames are unmasked in place: parse a fresh copy each round; the copy is
         * measured separately so it can be subtracted */
        MEASURE("memcpy of the masked frames [reference]", (double)nframes * FRAME_PAYLOAD,
                memcpy(work, frames_masked, nm));
        MEASURE("copy + parse 64 KiB frames, masked (server rx)", (double)nframes * FRAME_PAYLOAD, {
            size_t pos = 0, used;
            struct rd_ws_event ev;
            memcpy(work, frames_masked, nm);
            while (pos < nm) {
                if (rd_ws_reasm_parse(rs, work + pos, nm - pos, &used, &ev) != RD_WS_OK)
                    abort();
                sink ^= ev.data[0];
                pos += used;
            }
        });
    }
    rd_ws_reasm_free(rc);
    rd_ws_reasm_free(rs);
    free(frames_plain);
    free(frames_masked);
    free(work);
    free(src);
    free(dst);
    return 0;
}
