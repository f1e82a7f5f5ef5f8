/* progress.c — see progress.h. */
#include "harness/progress.h"

#include <pthread.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <time.h>
#include <unistd.h>

#include "core/error.h"
#include "core/mem.h"
#include "core/timer.h"

struct progress {
    FILE *out;
    progress_mode mode;     /* PROGRESS_BAR, PROGRESS_LINES or PROGRESS_NONE (auto resolved) */
    int total, done;        /* cells */
    double work_total;      /* weight of all cells */
    double work_done;       /* weight of the cells done (ran or skipped) */
    double work_ran;        /* weight of the cells that ran */
    double busy_ms;         /* time from the start to the end of the last cell that ran, minus skips */
    double t_start, t_cell; /* now_ms() at the start, at the start of the cell in flight (0: none) */
    double t_line;          /* now_ms() of the last line in lines mode */
    double every_ms;
    char what[160];         /* the cell in flight, "" if none */
    bool bar_shown;         /* a status line is on screen (bar mode) */
    bool stop;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    pthread_t ticker;
};

bool progress_mode_parse(const char *s, progress_mode *mode) {
    static const char *NAMES[] = {"auto", "bar", "lines", "none"};
    for (int i = 0; i < 4; i++)
        if (strcmp(s, NAMES[i]) == 0) {
            *mode = (progress_mode)i;
            return true;
        }
    return false;
}

const char *progress_duration(double s, char *buf, int len) {
    if (!(s >= 0)) s = 0;
    long t = (long)(s + 0.5);
    if (t < 60) snprintf(buf, len, "%lds", t);
    else if (t < 3600) snprintf(buf, len, "%ldm%02lds", t / 60, t % 60);
    else snprintf(buf, len, "%ldh%02ldm", t / 3600, t / 60 % 60);
    return buf;
}

/* The status text (no newline) into buf[len]; caller holds the mutex. */
static void status_text(progress *p, char *buf, int len, bool lines) {
    const double now = now_ms();
    char el[32], eta[32];
    progress_duration((now - p->t_start) / 1e3, el, sizeof el);
    const double left = p->work_total - p->work_done;
    if (p->done == p->total && !p->what[0]) {
        snprintf(eta, sizeof eta, "none (done)");
    } else if (p->work_ran > 0) {
        double r = p->busy_ms / p->work_ran * left - (p->t_cell > 0 ? now - p->t_cell : 0);
        progress_duration((r > 0 ? r : 0) / 1e3, eta, sizeof eta);
    } else {
        snprintf(eta, sizeof eta, "?");
    }
    const int pct = p->total > 0 ? (int)(100.0 * p->done / p->total) : 100;
    if (lines)
        snprintf(buf, len, "dam run: progress %d/%d cells (%d%%), elapsed %s, eta %s%s%s", p->done, p->total, pct, el,
                 eta, p->what[0] ? ", running " : "", p->what);
    else
        snprintf(buf, len, "[%d/%d cells %3d%%] elapsed %s  eta %s%s%s", p->done, p->total, pct, el, eta,
                 p->what[0] ? "  | " : "", p->what);
}

/* Columns of the terminal behind p->out (80 if unknown). */
static int term_cols(progress *p) {
    struct winsize ws;
    if (ioctl(fileno(p->out), TIOCGWINSZ, &ws) == 0 && ws.ws_col > 10) return ws.ws_col;
    return 80;
}

/* Bar mode: erase the status line. Caller holds the mutex. */
static void bar_erase(progress *p) {
    if (p->bar_shown) fputs("\r\033[K", p->out);
    p->bar_shown = false;
}

/* Bar mode: draw the status line, cut to the terminal width so it never wraps (a wrapped line
 * cannot be rewritten with \r). Caller holds the mutex. */
static void bar_draw(progress *p) {
    char buf[512];
    status_text(p, buf, sizeof buf, false);
    int cols = term_cols(p);
    if ((int)strlen(buf) > cols - 1) buf[cols - 1] = 0;
    fprintf(p->out, "\r%s\033[K", buf);
    fflush(p->out);
    p->bar_shown = true;
}

/* Lines mode: one progress line. Caller holds the mutex. */
static void line_print(progress *p) {
    char buf[512];
    status_text(p, buf, sizeof buf, true);
    fprintf(p->out, "%s\n", buf);
    fflush(p->out);
    p->t_line = now_ms();
}

static void *tick(void *arg) {
    progress *p = arg;
    pthread_mutex_lock(&p->mu);
    while (!p->stop) {
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        ts.tv_sec += 1;
        pthread_cond_timedwait(&p->cv, &p->mu, &ts);
        if (p->stop) break;
        if (p->mode == PROGRESS_BAR) bar_draw(p);
        else if (p->mode == PROGRESS_LINES && now_ms() - p->t_line >= p->every_ms) line_print(p);
    }
    pthread_mutex_unlock(&p->mu);
    return NULL;
}

progress *progress_start(FILE *out, progress_mode mode, int total, double work_total, double every_s) {
    progress *p = dam_calloc(1, sizeof *p, "progress");
    p->out = out;
    if (mode == PROGRESS_AUTO) {
        const char *term = getenv("TERM");
        mode = isatty(fileno(out)) && !(term && strcmp(term, "dumb") == 0) ? PROGRESS_BAR : PROGRESS_LINES;
    }
    p->mode = mode;
    p->total = total;
    p->work_total = work_total;
    p->every_ms = every_s * 1e3;
    p->t_start = p->t_line = now_ms();
    pthread_mutex_init(&p->mu, NULL);
    pthread_cond_init(&p->cv, NULL);
    int rc = pthread_create(&p->ticker, NULL, tick, p);
    if (rc != 0) dam_die(DAM_EXIT_RUNTIME, "cannot start the progress thread: %s", strerror(rc));
    return p;
}

void progress_cell_begin(progress *p, const char *what) {
    pthread_mutex_lock(&p->mu);
    snprintf(p->what, sizeof p->what, "%s", what);
    p->t_cell = now_ms();
    if (p->mode == PROGRESS_BAR) bar_draw(p);
    pthread_mutex_unlock(&p->mu);
}

void progress_cell_end(progress *p, double work, bool ran) {
    pthread_mutex_lock(&p->mu);
    const double now = now_ms();
    p->done++;
    p->work_done += work;
    if (ran) {
        p->work_ran += work;
        p->busy_ms += p->t_cell > 0 ? now - p->t_cell : 0;
    }
    p->t_cell = 0;
    p->what[0] = 0;
    if (p->mode == PROGRESS_BAR) bar_draw(p);
    pthread_mutex_unlock(&p->mu);
}

void progress_log(progress *p, const char *fmt, ...) {
    pthread_mutex_lock(&p->mu);
    const bool redraw = p->bar_shown;
    bar_erase(p);
    va_list ap;
    va_start(ap, fmt);
    vfprintf(p->out, fmt, ap);
    va_end(ap);
    if (redraw) bar_draw(p);
    fflush(p->out);
    pthread_mutex_unlock(&p->mu);
}

void progress_finish(progress *p) {
    if (p == NULL) return;
    pthread_mutex_lock(&p->mu);
    p->stop = true;
    pthread_cond_signal(&p->cv);
    pthread_mutex_unlock(&p->mu);
    pthread_join(p->ticker, NULL);
    p->what[0] = 0;
    bar_erase(p);
    if (p->mode != PROGRESS_NONE) line_print(p);
    pthread_cond_destroy(&p->cv);
    pthread_mutex_destroy(&p->mu);
    dam_free(p);
}
