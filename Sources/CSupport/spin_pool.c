// A small pool of worker threads for the many short parallel loops of decoding. A decoded
// token of a 135M model is about 250 matrix-vector products of a few microseconds each; waking
// sleeping threads for every one of them (libdispatch's concurrentPerform) costs about as much
// as the product. Here workers spin on a generation counter for a short while after each job,
// so the next job starts within a fraction of a microsecond, and sleep on a condition variable
// once no work has come for `spin_ns`, so an idle pool takes no core from anyone else.
#include "CSupport.h"
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <time.h>
#if defined(__x86_64__)
#include <immintrin.h>
#define SARO_PAUSE() _mm_pause()
#else
#define SARO_PAUSE() ((void)0)
#endif

typedef struct {
    pthread_mutex_t owner;          // held by the thread whose job runs: one job at a time
    pthread_mutex_t sleep_lock;
    pthread_cond_t wake;
    _Atomic unsigned long generation;  // bumped for each job
    _Atomic int remaining;           // parts of the current job not yet finished
    _Atomic int next_part;           // the next part to claim
    _Atomic int sleepers;
    saro_pool_task task;
    void *context;
    int parts;
    int workers;
    long spin_ns;
} saro_pool;

static saro_pool pool;
static pthread_once_t pool_once = PTHREAD_ONCE_INIT;
static int pool_requested_workers = 0;
static long pool_requested_spin_ns = 0;
static __thread int on_pool_thread = 0;

static long now_ns(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec * 1000000000L + t.tv_nsec;
}

// Claims and runs parts of the current job until none is left.
static void run_parts(void) {
    for (;;) {
        int p = atomic_fetch_add_explicit(&pool.next_part, 1, memory_order_acq_rel);
        if (p >= pool.parts) return;
        pool.task(pool.context, p);
        atomic_fetch_sub_explicit(&pool.remaining, 1, memory_order_acq_rel);
    }
}

static void *worker(void *unused) {
    (void)unused;
    on_pool_thread = 1;
    unsigned long seen = atomic_load_explicit(&pool.generation, memory_order_acquire);
    for (;;) {
        long deadline = now_ns() + pool.spin_ns;
        unsigned long g;
        int spins = 0;
        while ((g = atomic_load_explicit(&pool.generation, memory_order_acquire)) == seen) {
            SARO_PAUSE();
            if (++spins == 256) {
                spins = 0;
                if (now_ns() > deadline) {
                    pthread_mutex_lock(&pool.sleep_lock);
                    atomic_fetch_add(&pool.sleepers, 1);
                    while (atomic_load_explicit(&pool.generation, memory_order_acquire) == seen) pthread_cond_wait(&pool.wake, &pool.sleep_lock);
                    atomic_fetch_sub(&pool.sleepers, 1);
                    pthread_mutex_unlock(&pool.sleep_lock);
                    deadline = now_ns() + pool.spin_ns;
                }
            }
        }
        seen = g;
        run_parts();
    }
    return NULL;
}

static void pool_start(void) {
    pthread_mutex_init(&pool.owner, NULL);
    pthread_mutex_init(&pool.sleep_lock, NULL);
    pthread_cond_init(&pool.wake, NULL);
    pool.workers = pool_requested_workers;
    pool.spin_ns = pool_requested_spin_ns;
    for (int i = 0; i < pool.workers; i++) {
        pthread_t t;
        pthread_attr_t attr;
        pthread_attr_init(&attr);
        pthread_attr_setstacksize(&attr, 8 << 20);
        if (pthread_create(&t, &attr, worker, NULL) == 0) pthread_detach(t); else pool.workers = i;
        pthread_attr_destroy(&attr);
        if (pool.workers == i) break;
    }
}

int saro_pool_run(int threads, long spin_ns, int parts, saro_pool_task task, void *context) {
    if (on_pool_thread) {   // a part that splits its own loop: run it here, in order
        for (int p = 0; p < parts; p++) task(context, p);
        return 1;
    }
    if (parts <= 1 || threads <= 1) return 0;
    pool_requested_workers = threads - 1;
    pool_requested_spin_ns = spin_ns;
    pthread_once(&pool_once, pool_start);
    if (pool.workers == 0 || pthread_mutex_trylock(&pool.owner) != 0) return 0;
    pool.task = task;
    pool.context = context;
    pool.parts = parts;
    atomic_store_explicit(&pool.remaining, parts, memory_order_relaxed);
    // Release: a worker that claims a part of this job sees its task, context and parts.
    atomic_store_explicit(&pool.next_part, 0, memory_order_release);
    atomic_fetch_add_explicit(&pool.generation, 1, memory_order_release);
    if (atomic_load(&pool.sleepers) > 0) {
        pthread_mutex_lock(&pool.sleep_lock);
        pthread_cond_broadcast(&pool.wake);
        pthread_mutex_unlock(&pool.sleep_lock);
    }
    on_pool_thread = 1;
    run_parts();
    on_pool_thread = 0;
    while (atomic_load_explicit(&pool.remaining, memory_order_acquire) > 0) SARO_PAUSE();
    pthread_mutex_unlock(&pool.owner);
    return 1;
}
