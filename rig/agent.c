/*
 * The rig's control agent: runs inside L1 (the nested rig's Linux guest) and starts programs there for a
 * client on the host (rig/kvmstub-remote), which reaches it through a port QEMU forwards.
 *
 * One session per connection, in a child process of its own. Every message, both ways, is a record:
 * one tag byte, a 4-byte big-endian length, that many bytes.
 *
 *   agent -> client  'B' banner (once, on accept: "kvmstub-rig agent <kernel release>")
 *   client -> agent  'F' a file name (no '/'), then 'D' its contents: written into the session directory
 *                    'A' one argument; the first is the program (PATH is searched). "@F:NAME" becomes the path
 *                        of an uploaded file, "@SERIAL" the path of the session's serial file
 *                    'W' the name of an uploaded file to send back once the program has ended (a disk it writes)
 *                    'R' run it
 *                    'K' send the program a signal (the payload is its number, in decimal)
 *   agent -> client  'o' / 'e' the program's stdout / stderr, as it comes
 *                    's' what the program appended to the serial file (polled every 100 ms, and once more
 *                        when it has ended), so a client can wait for a guest's output while it runs
 *                    'f' one file asked for with 'W', as the program left it, in the order asked (before 'x')
 *                    'x' how it ended: "exit N" or "signal N"; then the agent closes the connection
 *                    'E' an error the agent met (then it closes)
 * A client that goes away ends its program (SIGTERM, SIGKILL two seconds later). The session directory
 * is removed at the end.
 *
 * usage: agent PORT   (listens on every address: in L1 only QEMU's user network reaches it)
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/utsname.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define MAX_ARGS 256
#define MAX_RECORD (1u << 30)

static int client = -1;

static int write_all(int fd, const void *buf, size_t len) {
    const char *p = buf;
    while (len > 0) {
        ssize_t n = write(fd, p, len);
        if (n < 0) {
            if (errno == EINTR) continue;
            return -1;
        }
        p += n;
        len -= (size_t)n;
    }
    return 0;
}

static int read_all(int fd, void *buf, size_t len) {
    char *p = buf;
    while (len > 0) {
        ssize_t n = read(fd, p, len);
        if (n < 0) {
            if (errno == EINTR) continue;
            return -1;
        }
        if (n == 0) return -1;
        p += n;
        len -= (size_t)n;
    }
    return 0;
}

static int send_record(char tag, const void *data, uint32_t len) {
    unsigned char head[5] = {(unsigned char)tag, len >> 24, len >> 16, len >> 8, len};
    if (write_all(client, head, 5) < 0) return -1;
    return len ? write_all(client, data, len) : 0;
}

static int send_text(char tag, const char *text) { return send_record(tag, text, (uint32_t)strlen(text)); }

/* Reads one record; the payload is malloc'd and NUL-terminated. */
static int read_record(char *tag, char **data, uint32_t *len) {
    unsigned char head[5];
    if (read_all(client, head, 5) < 0) return -1;
    *tag = (char)head[0];
    *len = (uint32_t)head[1] << 24 | (uint32_t)head[2] << 16 | (uint32_t)head[3] << 8 | head[4];
    if (*len > MAX_RECORD) return -1;
    *data = malloc(*len + 1);
    if (!*data) return -1;
    if (*len && read_all(client, *data, *len) < 0) return -1;
    (*data)[*len] = 0;
    return 0;
}

static void fail(const char *what) {
    char line[512];
    snprintf(line, sizeof line, "agent: %s (%s)", what, strerror(errno));
    send_text('E', line);
    _exit(1);
}

static char session_dir[64];

static void remove_session_dir(void) {
    DIR *d = opendir(session_dir);
    if (!d) return;
    struct dirent *e;
    char path[512];
    while ((e = readdir(d))) {
        if (e->d_name[0] == '.' && (e->d_name[1] == 0 || (e->d_name[1] == '.' && e->d_name[2] == 0))) continue;
        snprintf(path, sizeof path, "%s/%s", session_dir, e->d_name);
        unlink(path);
    }
    closedir(d);
    rmdir(session_dir);
}

/* Sends what was appended to the serial file since *sent; -1 when the client is gone. */
static int forward_serial(const char *path, off_t *sent) {
    struct stat st;
    if (stat(path, &st) < 0 || st.st_size <= *sent) return 0;
    int fd = open(path, O_RDONLY);
    if (fd < 0) return 0;
    char buf[65536];
    ssize_t n;
    int r = 0;
    while ((n = pread(fd, buf, sizeof buf, *sent)) > 0) {
        if (send_record('s', buf, (uint32_t)n) < 0) {
            r = -1;
            break;
        }
        *sent += n;
    }
    close(fd);
    return r;
}

static double now(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec + t.tv_nsec / 1e9;
}

static void session(void) {
    char *argv[MAX_ARGS + 1];
    int argc = 0;
    char pending_name[256] = "";
    char *send_back[8];
    int send_backs = 0;
    char serial_path[128];
    snprintf(session_dir, sizeof session_dir, "/tmp/session-%d", (int)getpid());
    if (mkdir(session_dir, 0700) < 0) fail("mkdir session directory");
    snprintf(serial_path, sizeof serial_path, "%s/serial", session_dir);

    struct utsname u;
    uname(&u);
    char banner[300];
    snprintf(banner, sizeof banner, "kvmstub-rig agent %s", u.release);
    if (send_text('B', banner) < 0) _exit(1);

    for (;;) {
        char tag, *data;
        uint32_t len;
        if (read_record(&tag, &data, &len) < 0) {
            remove_session_dir();
            _exit(1);
        }
        if (tag == 'F') {
            if (len == 0 || len >= sizeof pending_name || strchr(data, '/') || strcmp(data, "..") == 0 ||
                strcmp(data, "serial") == 0) {
                errno = EINVAL;
                fail("bad file name");
            }
            strcpy(pending_name, data);
        } else if (tag == 'D') {
            char path[512];
            if (!pending_name[0]) {
                errno = EINVAL;
                fail("file contents without a name");
            }
            snprintf(path, sizeof path, "%s/%s", session_dir, pending_name);
            int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0755);
            if (fd < 0 || write_all(fd, data, len) < 0 || close(fd) < 0) fail("write uploaded file");
            pending_name[0] = 0;
        } else if (tag == 'W') {
            if (len == 0 || strchr(data, '/') || strcmp(data, "..") == 0 || send_backs == 8) {
                errno = EINVAL;
                fail("bad file to send back");
            }
            send_back[send_backs++] = strdup(data);
        } else if (tag == 'A') {
            if (argc == MAX_ARGS) {
                errno = E2BIG;
                fail("too many arguments");
            }
            if (strncmp(data, "@F:", 3) == 0) {
                char *p;
                if (asprintf(&p, "%s/%s", session_dir, data + 3) < 0) fail("asprintf");
                argv[argc++] = p;
            } else if (strcmp(data, "@SERIAL") == 0) {
                argv[argc++] = strdup(serial_path);
            } else {
                argv[argc++] = strdup(data);
            }
        } else if (tag == 'R') {
            free(data);
            break;
        } else {
            errno = EINVAL;
            fail("unexpected record before R");
        }
        free(data);
    }
    if (argc == 0) {
        errno = EINVAL;
        fail("nothing to run");
    }
    argv[argc] = NULL;

    int out[2], err[2];
    if (pipe(out) < 0 || pipe(err) < 0) fail("pipe");
    pid_t child = fork();
    if (child < 0) fail("fork");
    if (child == 0) {
        int null = open("/dev/null", O_RDONLY);
        dup2(null, 0);
        dup2(out[1], 1);
        dup2(err[1], 2);
        close(out[0]);
        close(err[0]);
        close(client);
        setsid();
        sigset_t none;
        sigemptyset(&none);
        sigprocmask(SIG_SETMASK, &none, NULL);
        signal(SIGPIPE, SIG_DFL);
        execvp(argv[0], argv);
        dprintf(2, "agent: cannot run %s: %s\n", argv[0], strerror(errno));
        _exit(127);
    }
    close(out[1]);
    close(err[1]);

    int status = 0, reaped = 0, client_gone = 0;
    off_t serial_sent = 0;
    double kill_at = 0;
    struct pollfd fds[3] = {{out[0], POLLIN, 0}, {err[0], POLLIN, 0}, {client, POLLIN, 0}};
    char buf[65536];
    while (fds[0].fd >= 0 || fds[1].fd >= 0 || !reaped) {
        int r = poll(fds, 3, 100);
        if (r < 0 && errno != EINTR) fail("poll");
        for (int i = 0; i < 2; i++) {
            if (fds[i].fd >= 0 && fds[i].revents) {
                ssize_t n = read(fds[i].fd, buf, sizeof buf);
                if (n > 0) {
                    if (!client_gone && send_record(i == 0 ? 'o' : 'e', buf, (uint32_t)n) < 0) client_gone = 1;
                } else if (n == 0 || errno != EINTR) {
                    close(fds[i].fd);
                    fds[i].fd = -1;
                }
            }
        }
        if (fds[2].fd >= 0 && fds[2].revents) {
            char tag, *data;
            uint32_t len;
            if (read_record(&tag, &data, &len) < 0) {
                client_gone = 1;
                fds[2].fd = -1;
            } else {
                if (tag == 'K') kill(child, atoi(data));
                free(data);
            }
        }
        if (!client_gone && forward_serial(serial_path, &serial_sent) < 0) client_gone = 1;
        if (client_gone && !reaped && kill_at == 0) {
            kill(child, SIGTERM);
            kill_at = now() + 2;
        }
        if (kill_at != 0 && !reaped && now() > kill_at) kill(child, SIGKILL);
        if (!reaped && waitpid(child, &status, WNOHANG) == child) reaped = 1;
    }
    if (!client_gone) {
        forward_serial(serial_path, &serial_sent);
        for (int i = 0; i < send_backs; i++) {
            char path[512];
            snprintf(path, sizeof path, "%s/%s", session_dir, send_back[i]);
            int fd = open(path, O_RDONLY);
            struct stat st;
            char *contents = NULL;
            if (fd < 0 || fstat(fd, &st) < 0 || !(contents = malloc(st.st_size + 1)) ||
                read_all(fd, contents, st.st_size) < 0)
                fail("read a file to send back");
            close(fd);
            send_record('f', contents, (uint32_t)st.st_size);
            free(contents);
        }
        char how[64];
        if (WIFSIGNALED(status))
            snprintf(how, sizeof how, "signal %d", WTERMSIG(status));
        else
            snprintf(how, sizeof how, "exit %d", WEXITSTATUS(status));
        send_text('x', how);
    }
    remove_session_dir();
    _exit(0);
}

int main(int argc, char **argv) {
    if (argc != 2) {
        fprintf(stderr, "usage: agent PORT\n");
        return 1;
    }
    signal(SIGPIPE, SIG_IGN);
    signal(SIGCHLD, SIG_DFL);
    int s = socket(AF_INET, SOCK_STREAM, 0);
    int one = 1;
    setsockopt(s, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons(atoi(argv[1])), .sin_addr.s_addr = INADDR_ANY};
    if (s < 0 || bind(s, (struct sockaddr *)&a, sizeof a) < 0 || listen(s, 16) < 0) {
        perror("agent: listen");
        return 1;
    }
    fprintf(stderr, "agent: listening on port %s\n", argv[1]);
    for (;;) {
        while (waitpid(-1, NULL, WNOHANG) > 0) {}
        int c = accept(s, NULL, NULL);
        if (c < 0) {
            if (errno == EINTR) continue;
            perror("agent: accept");
            sleep(1);
            continue;
        }
        setsockopt(c, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
        pid_t p = fork();
        if (p == 0) {
            close(s);
            client = c;
            session();
        }
        close(c);
    }
}
