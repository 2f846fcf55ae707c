"""A private PostgreSQL primary and a streaming standby made from it with ``pg_basebackup -R``.

Both are throwaway clusters (Debian's PostgreSQL 15 binaries, ``initdb`` into temporary directories, ports of
their own); the shared server is never touched. The primary is the durability script's ``Cluster`` with
replication switched on; the standby is a copy of it that follows it over streaming replication. The pair can
also freeze a cluster (SIGSTOP on every one of its processes, like a host that stops answering without closing
connections), pause replay on the standby (a lagging standby), and make the standby synchronous with
``synchronous_commit = remote_apply`` (for measuring what that costs consent writes).
"""

from __future__ import annotations

import os
import shutil
import signal
import time
from pathlib import Path

from tests.faults.durability import PG_BIN, Cluster, sql

STANDBY_NAME = "standby1"
_REPLICATION = (
    "\nwal_level = replica\nmax_wal_senders = 8\nwal_keep_size = '256MB'\nhot_standby = on\n"
    "hot_standby_feedback = on\nwal_receiver_status_interval = 1s\nwal_sender_timeout = 10s\n"
    "max_standby_streaming_delay = 5s\nwal_receiver_timeout = 10s\n"
)


class Standby(Cluster):
    """A cluster whose data directory is a base backup of a primary, started in standby mode."""

    def __init__(self, port: int, primary: Cluster) -> None:
        super().__init__(port)
        self.primary = primary

    def init(self) -> None:
        if self.as_postgres:
            shutil.chown(self.root, "postgres", "postgres")
        self._run(
            str(PG_BIN / "pg_basebackup"),
            "-h", "127.0.0.1", "-p", str(self.primary.port), "-U", "postgres",
            "-D", str(self.data), "-R", "-X", "stream", "-c", "fast",
        )  # fmt: skip
        auto = self.data / "postgresql.auto.conf"
        text = auto.read_text().replace("primary_conninfo = '", f"primary_conninfo = 'application_name={STANDBY_NAME} ")
        auto.write_text(text)
        with (self.data / "postgresql.conf").open("a") as conf:
            conf.write(f"\nport = {self.port}\nunix_socket_directories = '{self.root}'\n")
        self.start()


class Pair:
    """The primary and its standby, created by ``create`` and removed by ``destroy``."""

    def __init__(self, primary_port: int, standby_port: int) -> None:
        self.primary = Cluster(primary_port)
        self.standby = Standby(standby_port, self.primary)

    def create(self, database: str = "geo_offers") -> None:
        """Both clusters running, ``database`` with PostGIS on the primary and replayed on the standby."""
        self.primary.init()
        with (self.primary.data / "postgresql.conf").open("a") as conf:
            conf.write(_REPLICATION)
        self.primary.restart("fast")
        sql(self.primary.url(), f"CREATE DATABASE {database}")
        sql(self.primary.url(database), "CREATE EXTENSION postgis")
        self.standby.init()
        self.wait_caught_up()

    def url(self, database: str = "geo_offers") -> str:
        return self.primary.url(database)

    def standby_url(self, database: str = "geo_offers") -> str:
        return self.standby.url(database)

    def wait_caught_up(self, timeout: float = 60.0) -> float:
        """Seconds until the standby has replayed everything the primary has flushed now."""
        started = time.monotonic()
        target = sql(self.primary.url(), "SELECT pg_current_wal_flush_lsn()::text")[0][0]
        while time.monotonic() - started < timeout:
            try:
                rows = sql(self.standby.url(), f"SELECT pg_last_wal_replay_lsn() >= '{target}'::pg_lsn")
                if rows and rows[0][0]:
                    return time.monotonic() - started
            except Exception:  # noqa: BLE001 - the standby may be starting
                pass
            time.sleep(0.05)
        raise RuntimeError("the standby did not catch up")

    def streaming(self) -> bool:
        """Whether the primary has a standby streaming from it."""
        return bool(sql(self.primary.url(), "SELECT count(*) FROM pg_stat_replication WHERE state = 'streaming'")[0][0])

    # --- faults ---------------------------------------------------------------------------------------------

    @staticmethod
    def pids(cluster: Cluster) -> list[int]:
        """The postmaster and every process it started."""
        postmaster = int((cluster.data / "postmaster.pid").read_text().split()[0])
        children = [int(pid) for pid in os.listdir("/proc") if pid.isdigit() and _parent(int(pid)) == postmaster]
        return [postmaster, *children]

    def freeze(self, cluster: Cluster) -> list[int]:
        """SIGSTOP every process of ``cluster``: connections stay open, nothing answers. The postmaster first, so
        that no backend is forked after the children were listed (a new connection's backend would still answer)."""
        postmaster, *_ = self.pids(cluster)
        os.kill(postmaster, signal.SIGSTOP)
        stopped = [postmaster]
        for pid in self.pids(cluster)[1:]:
            os.kill(pid, signal.SIGSTOP)
            stopped.append(pid)
        return stopped

    @staticmethod
    def thaw(pids: list[int]) -> None:
        for pid in pids:
            try:
                os.kill(pid, signal.SIGCONT)
            except ProcessLookupError:
                pass

    def pause_replay(self) -> None:
        sql(self.standby.url(), "SELECT pg_wal_replay_pause()")

    def resume_replay(self) -> None:
        sql(self.standby.url(), "SELECT pg_wal_replay_resume()")

    def synchronous(self, on: bool) -> None:
        """Make the standby synchronous with remote_apply (consent commits wait until it shows them), or not."""
        if on:
            sql(self.primary.url(), f"ALTER SYSTEM SET synchronous_standby_names = '{STANDBY_NAME}'")
            sql(self.primary.url(), "ALTER SYSTEM SET synchronous_commit = 'remote_apply'")
        else:
            sql(self.primary.url(), "ALTER SYSTEM RESET synchronous_standby_names")
            sql(self.primary.url(), "ALTER SYSTEM RESET synchronous_commit")
        sql(self.primary.url(), "SELECT pg_reload_conf()")

    def destroy(self) -> None:
        for cluster in (self.standby, self.primary):
            try:
                self.thaw(self.pids(cluster))
            except (OSError, ValueError):
                pass
            cluster.destroy()


def _parent(pid: int) -> int:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return -1
    return int(stat.rsplit(")", 1)[1].split()[1])
