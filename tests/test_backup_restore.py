"""Backup and restore while serving: `gatehouse backup FILE` takes a consistent snapshot of the
SQLite database during a sign-up storm, `gatehouse restore FILE` puts it into a fresh data folder
and every user confirmed before the backup started signs in there. On PostgreSQL the command
points at pg_dump, and the documented pg_dump / pg_restore recipe is run the same way. Restore
refuses a live data folder, a master key that does not open the backup, and a damaged file,
leaving nothing behind."""

from __future__ import annotations

import re
import shutil
import subprocess

import pytest

from gatehouse_harness import GatehouseServer, PoolFixture, PostgresDatabase, postgres_server_url, wait_until
from ops_support import (
    Acked,
    Storm,
    clean_env,
    gatehouse,
    make_data_dir,
    master_key_of,
    one_error_line,
    pool_on,
    random_master_key,
    signs_in,
)


def take_backup(server: GatehouseServer, backend: str, tmp_path) -> str:
    """Backs up `server`'s database the documented way for `backend`; returns the file."""
    if backend == "sqlite":
        backup = tmp_path / "gatehouse.backup"
        done = gatehouse("backup", str(backup), "--data-dir", str(server.data_dir))
        assert done.returncode == 0, done.stderr
        assert backup.stat().st_mode & 0o077 == 0, "the backup holds hashes: owner only"
        assert "backup written" in done.stdout
        return str(backup)
    dump = tmp_path / "gatehouse.dump"
    done = subprocess.run(
        ["pg_dump", "--format=custom", f"--file={dump}", server.database_url],
        capture_output=True, text=True, timeout=300,
    )
    assert done.returncode == 0, done.stderr
    return str(dump)


def test_backup_during_a_sign_up_storm_restores_every_confirmed_user(servers, backend, tmp_path):
    server = servers.new()
    pool = PoolFixture.create(server)
    storm = Storm(pool).start()
    try:
        assert wait_until(lambda: len(storm.snapshot()) >= 20, timeout=120), "the storm did not get going"
        before = storm.snapshot()
        backup = take_backup(server, backend, tmp_path)
        assert wait_until(lambda: len(storm.snapshot()) >= len(before) + 5, timeout=120)
    finally:
        acked = storm.stop()
    assert server.get("/health/ready").status_code == 200, "the service kept serving"

    key = master_key_of(server)
    fresh = make_data_dir(tmp_path, "restored")
    env = {"GATEHOUSE_MASTER_KEY": key}
    database_url = None
    if backend == "sqlite":
        done = gatehouse("restore", backup, "--data-dir", str(fresh), env=clean_env(**env))
        assert done.returncode == 0, done.stderr
    else:
        target = PostgresDatabase(postgres_server_url())
        servers.databases.append(target)
        done = subprocess.run(
            ["pg_restore", "--no-owner", f"--dbname={target.url}", backup],
            capture_output=True, text=True, timeout=300,
        )
        assert done.returncode == 0, done.stderr
        database_url = target.url
    restored = servers.new(data_dir=fresh, extra_env=env, database_url=database_url)
    assert restored.get("/health/ready").status_code == 200
    failed = signs_in(restored, pool_on(restored, pool), before)
    assert not failed, f"{len(failed)} of {len(before)} users confirmed before the backup cannot sign in: {failed[:5]}"
    assert len(acked) > len(before), "the storm went on during and after the backup"


@pytest.mark.parametrize("command", ["backup", "restore"])
def test_backup_and_restore_on_postgresql_point_at_pg_dump(command, tmp_path):
    url = "postgres://gatehouse:s3cret@db.internal:5432/gatehouse"
    target = tmp_path / "never.backup"
    line = one_error_line(gatehouse(command, str(target), "--database-url", url,
                                    "--data-dir", str(make_data_dir(tmp_path, "data"))))
    assert "pg_dump" in line and "pg_restore" in line and "docs/operations.md" in line
    assert not target.exists()
    assert "s3cret" not in line and "db.internal" not in line


@pytest.fixture(scope="module")
def backed_up(tmp_path_factory):
    """One SQLite server with one user, and a backup of it."""
    base = tmp_path_factory.mktemp("backup")
    server = GatehouseServer(data_dir=make_data_dir(base, "live"))
    try:
        server.start()
        pool = PoolFixture.create(server)
        user = pool.admin_user()
        backup = base / "gatehouse.backup"
        done = gatehouse("backup", str(backup), "--data-dir", str(server.data_dir))
        assert done.returncode == 0, done.stderr
        yield server, pool, user, backup
    finally:
        server.close()


def test_restore_refuses_a_live_data_folder(backed_up):
    server, _, _, backup = backed_up
    before = (server.data_dir / "gatehouse.db").stat()
    line = one_error_line(gatehouse("restore", str(backup), "--data-dir", str(server.data_dir)))
    assert "exists" in line and "fresh data folder" in line
    assert (server.data_dir / "gatehouse.db").stat().st_mtime_ns == before.st_mtime_ns
    assert server.get("/health/ready").status_code == 200


def test_restore_refuses_a_master_key_that_does_not_open_the_backup(backed_up, tmp_path):
    _, _, _, backup = backed_up
    fresh = make_data_dir(tmp_path, "fresh")
    line = one_error_line(gatehouse("restore", str(backup), "--data-dir", str(fresh),
                                    env=clean_env(GATEHOUSE_MASTER_KEY=random_master_key())))
    assert "master key" in line
    assert sorted(p.name for p in fresh.iterdir()) == [], "nothing is left behind"


def test_restore_without_any_master_key_says_where_to_put_it(backed_up, tmp_path):
    _, _, _, backup = backed_up
    fresh = make_data_dir(tmp_path, "fresh")
    line = one_error_line(gatehouse("restore", str(backup), "--data-dir", str(fresh)))
    assert "GATEHOUSE_MASTER_KEY" in line and "master.key" in line
    assert not (fresh / "gatehouse.db").exists()


def test_restore_refuses_a_damaged_backup(backed_up, tmp_path):
    server, _, _, backup = backed_up
    damaged = tmp_path / "damaged.backup"
    data = bytearray(backup.read_bytes())
    data[len(data) // 2 : len(data) // 2 + 4096] = b"\xff" * 4096
    damaged.write_bytes(bytes(data))
    fresh = make_data_dir(tmp_path, "fresh")
    line = one_error_line(gatehouse("restore", str(damaged), "--data-dir", str(fresh),
                                    env=clean_env(GATEHOUSE_MASTER_KEY=master_key_of(server))))
    assert re.search(r"damaged|malformed|corrupt|not a database", line), line
    assert not (fresh / "gatehouse.db").exists()


def test_backup_never_overwrites_a_file(backed_up, tmp_path):
    server, _, _, _ = backed_up
    existing = tmp_path / "existing"
    existing.write_text("keep me")
    line = one_error_line(gatehouse("backup", str(existing), "--data-dir", str(server.data_dir)))
    assert "already exists" in line
    assert existing.read_text() == "keep me"


def test_a_restored_folder_with_its_master_key_file_serves_the_same_users(backed_up, tmp_path):
    server, pool, user, backup = backed_up
    fresh = make_data_dir(tmp_path, "fresh")
    shutil.copy(server.data_dir / "master.key", fresh / "master.key")
    done = gatehouse("restore", str(backup), "--data-dir", str(fresh))
    assert done.returncode == 0, done.stderr
    restored = GatehouseServer(data_dir=fresh)
    try:
        restored.start()
        assert restored.get("/health/ready").status_code == 200
        assert not signs_in(restored, pool_on(restored, pool), [Acked(user.username, user.password, user.sub)])
    finally:
        restored.close()
