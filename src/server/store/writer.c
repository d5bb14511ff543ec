/* writer.c - the group-commit writer: one thread takes queued writes and commits them in batches.
 *
 * Each batch is one transaction of the backend (store/backend.h, tx_*), each write in a nested
 * scope of its own so one refusal spoils nothing else, and one commit (one fsync) for the lot.
 * Only after the commit are changes reported and each write's done called, so a request is never
 * answered before its write is durable, and request threads never wait for a disk flush. How a
 * write is decided (expire first if due, then check or decide, then apply) lives here too, the
 * same for every backend.
 *
 * SPDX-License-Identifier: MIT
 */
#include "store/writer.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "store/backend.h"
#include "util/clock.h"

#define WRITE_BATCH_MAX 128
/* Group commit: when the last batch showed concurrent writers, the writer waits up to
 * GROUP_WAIT_NS for GROUP_TARGET writes before it begins, as PostgreSQL's commit_delay does. Each
 * commit costs its WAL frames and an fdatasync whatever it holds, and pages shared by the batch
 * (the ends of the offers table, of the change log, of the expiry index) are written once; under
 * the benchmark's mixed load this cut the writer's CPU per write by ~10%. A lone write never waits. */
#define GROUP_TARGET 16
#define GROUP_AFTER_BATCH 4
#define GROUP_WAIT_NS 1000000L

/* What one write of the batch did, kept beside it until it is reported. */
struct slot {
    struct store_write *w;
    bool keep;                      /* its scope holds a change to commit and report (w->out) */
    struct store_side_change *side; /* other offers it changed: reported, then freed */
    size_t side_count;
};

struct store_writer {
    struct store *store;
    pthread_t thread;
    pthread_mutex_t queue_lock;
    pthread_cond_t queue_cond;
    struct store_write *queue_head, *queue_tail;
    size_t queue_len;
    enum { WRITER_BUSY, WRITER_IDLE, WRITER_GATHERING } state;
    bool stop;
    struct slot slots[WRITE_BATCH_MAX]; /* the batch being written (writer thread only) */
};

static void drop_side_changes(struct slot *sl)
{
    free(sl->side);
    sl->side = NULL;
    sl->side_count = 0;
}

/* Inside the batch: checks the product, inserts, reads the new offer back into w->out. */
static enum store_result create_one(struct store *s, struct store_write *w)
{
    struct product product;
    memset(&product, 0, sizeof(product));
    enum store_result r = s->ops->tx_load_product(s, w->create.product_id, &product);
    if (r == STORE_OK && w->check && !w->check(&product, w->userdata))
        r = STORE_CONFLICT;
    if (r == STORE_OK)
        r = s->ops->tx_insert_offer(s, &w->create, product.seller_id);
    if (r == STORE_OK)
        r = s->ops->tx_load_offer(s, w->create.id, &w->out);
    store_product_cleanup(&product);
    if (r != STORE_OK)
        offer_cleanup(&w->out);
    return r;
}

/* Inside the batch: expires the offer if due, lets decide look at it, applies what it returns.
 * OK: w->out is the offer after, and sl->side the other offers it changed (a sale's). CONFLICT:
 * refused; if an expiry was stored on the way, sl->keep is true and w->out is that expired state
 * (to commit and report), else w->out is empty. */
static enum store_result update_one(struct store *s, struct store_write *w, struct slot *sl)
{
    struct offer cur;
    memset(&cur, 0, sizeof(cur));
    bool expired = false;
    enum store_result r = s->ops->tx_expire_offer(s, w->offer_id, w->now_ms, &expired);
    if (r == STORE_OK)
        r = s->ops->tx_load_offer(s, w->offer_id, &cur);
    if (r != STORE_OK)
        return r;
    struct offer_change change;
    memset(&change, 0, sizeof(change));
    if (!w->decide(&cur, w->now_ms, &change, w->userdata)) {
        if (expired) {
            sl->keep = true; /* refused, but the expiry found on the way is a real change */
            w->out = cur;
        } else {
            offer_cleanup(&cur);
        }
        return STORE_CONFLICT;
    }
    r = s->ops->tx_apply_change(s, &cur, &change, w->now_ms, &sl->side, &sl->side_count);
    if (r == STORE_OK)
        r = s->ops->tx_load_offer(s, w->offer_id, &w->out);
    offer_cleanup(&cur);
    if (r != STORE_OK)
        offer_cleanup(&w->out);
    else
        sl->keep = true;
    return r;
}

/* One transaction for a batch of n queued writes, a scope each, one commit. */
static void write_batch(struct store *s, struct slot *slots, size_t n)
{
    enum store_result r = s->ops->tx_begin(s);
    for (size_t i = 0; i < n; i++) {
        struct slot *sl = &slots[i];
        struct store_write *w = sl->w;
        memset(&w->out, 0, sizeof(w->out));
        if (r != STORE_OK) {
            w->result = r;
            continue;
        }
        w->result = s->ops->tx_write_begin(s);
        if (w->result != STORE_OK)
            continue;
        if (w->is_create) {
            w->result = create_one(s, w);
            sl->keep = w->result == STORE_OK;
        } else {
            w->result = update_one(s, w, sl);
        }
        s->ops->tx_write_end(s, sl->keep);
        if (w->result != STORE_OK) /* rolled back, or refused: nothing else changed */
            drop_side_changes(sl);
    }
    if (r != STORE_OK)
        return;
    enum store_result cr = s->ops->tx_commit(s);
    if (cr == STORE_OK)
        return;
    for (size_t i = 0; i < n; i++) {
        if (slots[i].keep) {
            offer_cleanup(&slots[i].w->out);
            slots[i].keep = false;
            slots[i].w->result = cr;
        }
        drop_side_changes(&slots[i]);
    }
}

/* Writes the batch, then reports what it committed and answers each write. */
static void run_batch(struct store_writer *wr, struct store_write *batch)
{
    size_t n = 0;
    for (struct store_write *w = batch; w; w = w->queued.next)
        wr->slots[n++] = (struct slot){.w = w};
    write_batch(wr->store, wr->slots, n);
    for (size_t i = 0; i < n; i++) {
        struct slot *sl = &wr->slots[i];
        struct store_write *w = sl->w; /* done may free it */
        if (sl->keep)
            store_report_change(wr->store, &w->out);
        for (size_t j = 0; j < sl->side_count; j++)
            store_report_side_change(wr->store, &sl->side[j]);
        drop_side_changes(sl);
        if (w->result != STORE_OK)
            offer_cleanup(&w->out); /* a refusal that kept an expiry: reported, not returned */
        w->done(w);
    }
}

static void *writer_main(void *arg)
{
    struct store_writer *wr = arg;
    size_t last_batch = 0;
    pthread_mutex_lock(&wr->queue_lock);
    for (;;) {
        wr->state = WRITER_IDLE;
        while (!wr->queue_head && !wr->stop)
            pthread_cond_wait(&wr->queue_cond, &wr->queue_lock);
        if (!wr->queue_head)
            break; /* stopping, and nothing left to write */
        if (last_batch >= GROUP_AFTER_BATCH && wr->queue_len < GROUP_TARGET) {
            wr->state = WRITER_GATHERING;
            struct timespec until = clock_monotonic_after_ns(GROUP_WAIT_NS);
            while (wr->queue_len < GROUP_TARGET && !wr->stop &&
                   pthread_cond_timedwait(&wr->queue_cond, &wr->queue_lock, &until) == 0) {
            }
        }
        wr->state = WRITER_BUSY;
        struct store_write *batch = wr->queue_head, *last = batch;
        size_t n = 1;
        for (; n < WRITE_BATCH_MAX && last->queued.next; n++)
            last = last->queued.next;
        wr->queue_len -= n;
        last_batch = n;
        wr->queue_head = last->queued.next;
        if (!wr->queue_head)
            wr->queue_tail = NULL;
        last->queued.next = NULL;
        pthread_mutex_unlock(&wr->queue_lock);
        run_batch(wr, batch);
        pthread_mutex_lock(&wr->queue_lock);
    }
    pthread_mutex_unlock(&wr->queue_lock);
    return NULL;
}

struct store_writer *store_writer_start(struct store *s, char *err, size_t err_size)
{
    struct store_writer *wr = calloc(1, sizeof(*wr));
    if (!wr) {
        snprintf(err, err_size, "out of memory");
        return NULL;
    }
    wr->store = s;
    pthread_mutex_init(&wr->queue_lock, NULL);
    pthread_condattr_t cond_attr; /* the group-commit wait is timed on the monotonic clock */
    pthread_condattr_init(&cond_attr);
    pthread_condattr_setclock(&cond_attr, CLOCK_MONOTONIC);
    pthread_cond_init(&wr->queue_cond, &cond_attr);
    pthread_condattr_destroy(&cond_attr);
    /* The writer thread starts with the store: the stop signals are blocked by then (main). */
    if (pthread_create(&wr->thread, NULL, writer_main, wr) != 0) {
        snprintf(err, err_size, "cannot start the writer thread");
        pthread_cond_destroy(&wr->queue_cond);
        pthread_mutex_destroy(&wr->queue_lock);
        free(wr);
        return NULL;
    }
    pthread_setname_np(wr->thread, "offerd-writer"); /* for top -H, perf and bench/mix_cost.sh */
    return wr;
}

void store_writer_submit(struct store_writer *wr, struct store_write *w)
{
    w->queued.next = NULL;
    pthread_mutex_lock(&wr->queue_lock);
    if (wr->queue_tail)
        wr->queue_tail->queued.next = w;
    else
        wr->queue_head = w;
    wr->queue_tail = w;
    wr->queue_len++;
    /* A busy writer looks at the queue when its batch is done; a gathering one only needs waking
     * once the group is full. */
    if (wr->state == WRITER_IDLE ||
        (wr->state == WRITER_GATHERING && wr->queue_len >= GROUP_TARGET))
        pthread_cond_signal(&wr->queue_cond);
    pthread_mutex_unlock(&wr->queue_lock);
}

void store_writer_stop(struct store_writer *wr)
{
    if (!wr)
        return;
    pthread_mutex_lock(&wr->queue_lock);
    wr->stop = true; /* it writes what is queued first */
    if (wr->state != WRITER_BUSY) /* a busy writer looks at stop when its batch is done */
        pthread_cond_signal(&wr->queue_cond);
    pthread_mutex_unlock(&wr->queue_lock);
    pthread_join(wr->thread, NULL);
    pthread_cond_destroy(&wr->queue_cond);
    pthread_mutex_destroy(&wr->queue_lock);
    free(wr);
}
