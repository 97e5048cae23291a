// A private, throw-away PostgreSQL cluster for tests (RAII): initdb into a
// fresh temporary directory, the server listening only on a Unix socket in
// that directory (listen_addresses='': no TCP at all), trust authentication,
// fsync off. The destructor stops it (-m immediate) and removes the directory.
//
// Uses Debian's server binaries (/usr/lib/postgresql/<version>/bin, the
// newest version found). initdb and the server refuse to run as root, so as
// root they run as the `postgres` user (runuser) in a directory it owns; the
// clients (psql) then connect as that database superuser.
//
// Everything runs through fork/exec (no shell), with output into a file in
// the cluster directory: a message on failure, never on the test's output.
#pragma once

#include <fcntl.h>
#include <pwd.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <memory>
#include <random>
#include <sstream>
#include <string>
#include <system_error>
#include <vector>

namespace irp::test {

class PgCluster {
public:
    // The bin directory of the newest installed PostgreSQL, or "" if none.
    static std::string find_bin_dir() {
        namespace fs = std::filesystem;
        std::error_code ec;
        std::string best;
        int best_version = -1;
        for (const auto& e : fs::directory_iterator("/usr/lib/postgresql", ec)) {
            const std::string name = e.path().filename().string();
            const int v = std::atoi(name.c_str());
            if (v > best_version && fs::exists(e.path() / "bin" / "initdb", ec) &&
                fs::exists(e.path() / "bin" / "pg_ctl", ec)) {
                best_version = v;
                best = (e.path() / "bin").string();
            }
        }
        return best;
    }

    // Creates and starts a cluster; nullptr and `why` on failure.
    static std::unique_ptr<PgCluster> start(std::string& why) {
        const std::string bin = find_bin_dir();
        if (bin.empty()) {
            why = "no PostgreSQL server binaries in /usr/lib/postgresql/*/bin (apt-get install postgresql)";
            return nullptr;
        }
        std::unique_ptr<PgCluster> c(new PgCluster(bin));
        if (!c->init(why)) return nullptr;
        return c;
    }

    ~PgCluster() {
        if (running_) stop("immediate");
        std::error_code ec;
        std::filesystem::remove_all(dir_, ec);
    }
    PgCluster(const PgCluster&) = delete;
    PgCluster& operator=(const PgCluster&) = delete;

    // A libpq conninfo for `dbname`; connect_timeout keeps an outage short.
    std::string conninfo(const std::string& dbname) const {
        return "host=" + dir_ + " port=" + std::to_string(port_) + " user=" + user_ + " dbname=" + dbname +
               " connect_timeout=2";
    }

    bool create_database(const std::string& name, std::string& why) {
        std::string out;
        if (sql("postgres", "CREATE DATABASE " + name, out)) return true;
        why = "CREATE DATABASE " + name + ": " + out;
        return false;
    }

    // Runs SQL with psql as the superuser; `out` gets psql's unaligned,
    // tuples-only output (or its error). True when psql succeeded.
    bool sql(const std::string& dbname, const std::string& statement, std::string& out) {
        return run({bin_ + "/psql", "-X", "-q", "-t", "-A", "-v", "ON_ERROR_STOP=1", "-d", conninfo(dbname), "-c",
                    statement},
                   false, out);
    }

    // "fast" disconnects clients and shuts down cleanly; "immediate" aborts.
    bool stop(const std::string& mode) {
        std::string out;
        const bool ok = run({bin_ + "/pg_ctl", "-D", data_, "-m", mode, "-w", "-t", "30", "stop"}, true, out);
        if (ok) running_ = false;
        return ok;
    }

    // Starts the (stopped) cluster again on the same socket.
    bool start_again(std::string& why) {
        std::string out;
        const std::string options = "-c listen_addresses='' -k " + dir_ + " -p " + std::to_string(port_) +
                                    " -c fsync=off -c synchronous_commit=off -c full_page_writes=off"
                                    " -c max_connections=40 -c shared_buffers=16MB";
        if (!run({bin_ + "/pg_ctl", "-D", data_, "-l", dir_ + "/server.log", "-o", options, "-w", "-t", "60",
                  "start"},
                 true, out)) {
            why = "pg_ctl start: " + out + "\n" + read_file(dir_ + "/server.log");
            return false;
        }
        running_ = true;
        return true;
    }

    std::string server_version() {
        std::string out;
        if (!sql("postgres", "SHOW server_version", out)) return "unknown (" + out + ")";
        return trim(out);
    }

    const std::string& dir() const { return dir_; }

    static std::string trim(std::string s) {
        while (!s.empty() && (s.back() == '\n' || s.back() == ' ')) s.pop_back();
        return s;
    }

private:
    explicit PgCluster(std::string bin) : bin_(std::move(bin)) {}

    bool init(std::string& why) {
        as_postgres_ = geteuid() == 0;
        const passwd* pw = getpwnam(as_postgres_ ? "postgres" : "");
        if (as_postgres_ && !pw) {
            why = "running as root and there is no `postgres` user to run initdb as";
            return false;
        }
        if (!as_postgres_) {
            const passwd* me = getpwuid(geteuid());
            if (!me) { why = "cannot determine the current user name"; return false; }
            user_ = me->pw_name;
        }
        // Short: a socket path may be at most 107 bytes.
        std::string tmpl = "/tmp/irp-pg-XXXXXX";
        if (!mkdtemp(tmpl.data())) { why = "mkdtemp failed"; return false; }
        dir_ = tmpl;
        data_ = dir_ + "/data";
        if (as_postgres_ && chown(dir_.c_str(), pw->pw_uid, pw->pw_gid) != 0) {
            why = "chown " + dir_ + " to postgres failed";
            return false;
        }
        std::random_device rd;
        port_ = 20000 + static_cast<int>(rd() % 40000);  // only names the socket file
        std::string out;
        if (!run({bin_ + "/initdb", "-D", data_, "-U", user_, "--auth=trust", "-E", "UTF8", "--locale=C",
                  "--no-sync"},
                 true, out)) {
            why = "initdb: " + out;
            return false;
        }
        return start_again(why);
    }

    // Runs argv (as `postgres` when root and `as_server`); waits; `out`
    // gets its stdout and stderr.
    bool run(std::vector<std::string> argv, bool as_server, std::string& out) {
        if (as_server && as_postgres_)
            argv.insert(argv.begin(), {"/usr/sbin/runuser", "-u", "postgres", "--"});
        const std::string log = dir_ + "/cmd.out";
        std::vector<char*> args;
        for (auto& a : argv) args.push_back(a.data());
        args.push_back(nullptr);
        const pid_t pid = fork();
        if (pid < 0) { out = "fork failed"; return false; }
        if (pid == 0) {
            // Only async-signal-safe calls between fork and exec.
            const int fd = open(log.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0666);
            const int null_fd = open("/dev/null", O_RDONLY);
            if (fd < 0 || null_fd < 0 || chdir(dir_.c_str()) != 0) _exit(126);
            dup2(null_fd, 0);
            dup2(fd, 1);
            dup2(fd, 2);
            execv(args[0], args.data());
            _exit(127);
        }
        int status = 0;
        while (waitpid(pid, &status, 0) < 0) {
            if (errno != EINTR) { out = "waitpid failed"; return false; }
        }
        out = read_file(log);
        return WIFEXITED(status) && WEXITSTATUS(status) == 0;
    }

    static std::string read_file(const std::string& path) {
        std::ifstream f(path);
        std::stringstream ss;
        ss << f.rdbuf();
        return ss.str();
    }

    std::string bin_;
    std::string dir_;
    std::string data_;
    std::string user_ = "postgres";
    int port_ = 0;
    bool as_postgres_ = false;
    bool running_ = false;
};

}  // namespace irp::test
