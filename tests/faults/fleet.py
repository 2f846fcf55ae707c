"""Service instances on a primary-and-standby pair: one reading from the primary, others from the standby.

Each instance is a real ``geo-offers serve`` process (uvicorn) with its own port. Every instance writes to the
primary and asks the consent gate there; an instance given the standby as its read database loads its deal
index, follows the change table and answers area catalogues from the standby, and still listens for
notifications on the primary. The fleet holds the keys, the notice, a merchant with a store, and small helpers
for the requests the scenarios make (grant, withdraw, match, publish, pause), each answering ``(status, json)``.
"""

from __future__ import annotations

import json
import os
import random
import subprocess
import sys
import time
import uuid
from dataclasses import dataclass
from typing import Any

import h3.api.basic_int as h3

from geo_offers.kit.database import open_database
from geo_offers.settings import Settings
from geo_offers.tenants import keys as key_repo
from geo_offers.tenants import merchants as merchant_repo
from tests.faults.durability import PURPOSES, Service, request
from tests.faults.pair import Pair

#: Stores are placed around here (Berlin), each far enough from the others that their deals do not overlap.
ORIGIN = (52.52, 13.405)


class Uvicorn(Service):
    """The service under uvicorn (uvloop, httptools), as ``geo-offers serve`` runs it, one worker."""

    factory = "geo_offers.app:create_app_from_env"

    def start(self) -> float:
        started = time.monotonic()
        command = [
            sys.executable, "-m", "uvicorn", "--factory", self.factory,
            "--host", "127.0.0.1", "--port", str(self.port), "--loop", "uvloop", "--http", "httptools",
            "--no-access-log",
        ]  # fmt: skip
        with self.logfile.open("ab") as out:
            self.process = subprocess.Popen(command, env=self.env, stdout=out, stderr=out)
        self.wait_ready()
        return time.monotonic() - started


class GateOnStandby(Uvicorn):
    """The harness-only variant whose consent gate asks the standby (tests/faults/gate_standby.py)."""

    factory = "tests.faults.gate_standby:create_app_from_env"


@dataclass
class Instance:
    name: str
    port: int
    service: Service
    reads_standby: bool


def _cli(env: dict[str, str], *args: str) -> str:
    return subprocess.run(["geo-offers", *args], env=env, check=True, capture_output=True, text=True).stdout.strip()


class Fleet:
    """The pair, its schema and data, and the running instances."""

    def __init__(
        self, pair: Pair, ports: list[int], standby_readers: int, extra_env: dict[str, str], gate_port: int = 0
    ) -> None:
        self.pair = pair
        self.ports = ports
        self.gate_port = gate_port  # when set: one more instance, its consent gate on the standby (not a reader)
        self.gate_on_standby: Instance | None = None
        self.standby_readers = standby_readers
        self.env = {
            **os.environ,
            "GEO_OFFERS_DATABASE_URL": pair.url(),
            "GEO_OFFERS_ENVIRONMENT": "test",
            "GEO_OFFERS_RATE_LIMIT_PER_S": "100000",
            "GEO_OFFERS_RATE_LIMIT_BURST": "100000",
            "GEO_OFFERS_LOG_LEVEL": "WARNING",
            "GEO_OFFERS_GC_FREEZE": "false",
            **extra_env,
        }
        self.instances: list[Instance] = []
        self.app_key = self.merchant_key = self.admin_key = ""
        self.notice = 0
        self.store_id = 0
        self.lat, self.lon = ORIGIN
        self._rng = random.Random(15)

    def prepare(self) -> None:
        """Schema, keys, notice and a store, then every instance started and ready."""
        _cli(self.env, "db", "upgrade")
        with open_database(Settings(database_url=self.pair.url())) as database, database.transaction() as session:
            self.admin_key = key_repo.create_key(session, "admin", None, "harness").key
            self.app_key = key_repo.create_key(session, "app", None, "harness").key
            merchant = merchant_repo.create_merchant(session, "Harness GmbH").id
            self.merchant_key = key_repo.create_key(session, "merchant", merchant, "harness").key
        for i, port in enumerate(self.ports):
            standby = 0 < i <= self.standby_readers
            env = dict(self.env)
            if standby:
                env["GEO_OFFERS_READ_DATABASE_URL"] = self.pair.standby_url()
            name = f"standby-reader-{i}" if standby else "primary-reader"
            logfile = self.pair.primary.root / f"{name}.log"
            self.instances.append(Instance(name, port, Uvicorn(env, port, logfile), standby))
        if self.gate_port:
            env = {**self.env, "GEO_OFFERS_READ_DATABASE_URL": self.pair.standby_url()}
            logfile = self.pair.primary.root / "gate-on-standby.log"
            service = GateOnStandby(env, self.gate_port, logfile)
            self.gate_on_standby = Instance("gate-on-standby", self.gate_port, service, True)
        for instance in [*self.instances, *([self.gate_on_standby] if self.gate_on_standby else [])]:
            try:
                instance.service.start()
            except RuntimeError:
                print(instance.service.logfile.read_text()[-3000:], file=sys.stderr)
                raise
        notice = {
            "purposes": [{"id": p, "title": {"de": p, "en": p}, "description": {"de": p, "en": p}} for p in PURPOSES],
            "texts": {"de": "Hinweis", "en": "Notice"},
            "fresh_consent_for": [],
        }
        status, body = self.call(self.instances[0], "POST", "/v1/notices", notice, self.admin_key)
        assert status == 201, body
        self.notice = int(body["version"])
        store = {
            "name": "Kaffeebar Mitte",
            "address": "Karl-Liebknecht-Str. 1, 10178 Berlin",
            "location": {"type": "Point", "coordinates": [self.lon, self.lat]},
            "timezone": "Europe/Berlin",
            "categories": ["cafe"],
        }
        status, body = self.call(self.instances[0], "POST", "/v1/stores", store, self.merchant_key)
        assert status == 201, body
        self.store_id = int(body["id"])

    @property
    def readers(self) -> list[Instance]:
        return [i for i in self.instances if i.reads_standby]

    def stop(self) -> None:
        for instance in [*self.instances, *([self.gate_on_standby] if self.gate_on_standby else [])]:
            instance.service.stop()

    # --- requests -------------------------------------------------------------------------------------------

    @staticmethod
    def call(
        instance: Instance, method: str, path: str, body: Any = None, key: str = "", timeout: float = 15.0
    ) -> tuple[int, Any]:
        headers = {"Authorization": f"Bearer {key}"} if key else {}
        status, answer_headers, content = request(instance.port, method, path, body, headers, timeout=timeout)
        try:
            parsed = json.loads(content) if content else None
        except ValueError:
            parsed = content.decode(errors="replace")
        if isinstance(parsed, dict) and status >= 400:
            parsed["_content_type"] = answer_headers.get("content-type", "")
            parsed["_retry_after"] = answer_headers.get("retry-after")
        return status, parsed

    def new_subject(self) -> str:
        return str(uuid.UUID(int=self._rng.getrandbits(128), version=4))

    def grant(self, instance: Instance, subject: str) -> tuple[int, Any]:
        body = {
            "subject_id": subject,
            "notice_version": self.notice,
            "purposes": ["location_offers"],
            "source": "harness",
            "locale": "de-DE",
            "precision_res": 7,
        }
        return self.call(instance, "POST", "/v1/consents", body, self.app_key)

    def withdraw(self, instance: Instance, subject: str) -> tuple[int, Any]:
        body = {"subject_id": subject, "purposes": ["location_offers"]}
        return self.call(instance, "POST", "/v1/consents/withdraw", body, self.app_key)

    def match_cell(self) -> str:
        return format(h3.cell_to_parent(h3.latlng_to_cell(self.lat, self.lon, 8), 7), "x")

    def match(self, instance: Instance, subject: str, timeout: float = 15.0) -> tuple[int, Any]:
        body = {"subject_id": subject, "cell": self.match_cell()}
        return self.call(instance, "POST", "/v1/offers/match", body, self.app_key, timeout=timeout)

    def area(self, instance: Instance, timeout: float = 15.0) -> tuple[int, Any]:
        cell = format(h3.cell_to_parent(h3.latlng_to_cell(self.lat, self.lon, 8), 5), "x")
        return self.call(instance, "GET", f"/v1/offers/area/{cell}", key=self.app_key, timeout=timeout)

    def publish(self, instance: Instance) -> tuple[int, float]:
        """A new active deal at the store; its id and the moment its 201 arrived."""
        body = {
            "store_id": self.store_id,
            "title": "Zweiter Kaffee gratis",
            "description": "Beim Kauf eines Heißgetränks",
            "category": "cafe",
            "area": {"radius_m": 500},
            "valid_from": "2026-01-01T00:00:00+01:00",
            "valid_until": "2030-12-31T23:59:00+01:00",
            "windows": [],
            "status": "active",
        }
        status, answer = self.call(instance, "POST", "/v1/deals", body, self.merchant_key)
        acknowledged = time.monotonic()
        assert status == 201, answer
        return int(answer["id"]), acknowledged

    def pause(self, instance: Instance, deal_id: int) -> float:
        status, answer = self.call(instance, "PATCH", f"/v1/deals/{deal_id}", {"status": "paused"}, self.merchant_key)
        acknowledged = time.monotonic()
        assert status == 200, answer
        return acknowledged

    def offers(self, instance: Instance, subject: str) -> set[int] | None:
        status, body = self.match(instance, subject)
        return {o["deal_id"] for o in body["offers"]} if status == 200 else None
