"""``manage.py inmemorystorage``: its subcommands, in this process and as a user runs them."""

from __future__ import annotations

import io
import os
import subprocess
import sys
import tarfile
import textwrap
from importlib.metadata import version

import pytest
from django.core.files.base import ContentFile
from django.core.files.storage import storages
from django.core.management import call_command
from django.core.management.base import CommandError
from django.utils import timezone

from inmemorystorage import InMemoryStorage, dump
from inmemorystorage.__main__ import main

STATIC = {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"}
SUBCOMMANDS = ["ls", "stats", "dump", "load", "clear"]

pytestmark = pytest.mark.usefixtures("forget_shared_stores")


@pytest.fixture
def installed(settings):
    """The app installed (so Django finds its command) and a bounded default storage."""
    settings.INSTALLED_APPS = [*settings.INSTALLED_APPS, "inmemorystorage"]
    settings.STORAGES = {
        "default": {
            "BACKEND": "inmemorystorage.InMemoryStorage",
            "OPTIONS": {"namespace": "media", "max_bytes": 64 * 1024},
        },
        "staticfiles": STATIC,
    }
    return settings


def run(*args, **options):
    """call_command() as a test runs it: (stdout, stderr)."""
    out, err = io.StringIO(), io.StringIO()
    call_command("inmemorystorage", *args, stdout=out, stderr=err, **options)
    return out.getvalue(), err.getvalue()


def tar_of(files, path):
    """A tar at *path*, as the storage page's download writes it, holding *files*."""
    source = InMemoryStorage()
    for name, content in files.items():
        source.save(name, ContentFile(content))
    dump(source, path)
    return path


# In this process.


def test_every_subcommand_says_it_runs_in_its_own_process(installed):
    """Whatever it does, the command first says which files it can see, and where to look."""
    _out, err = run("stats")
    assert f"runs in its own process (pid {os.getpid()})" in err
    assert "none of the files a running runserver holds" in err
    assert "/__inmemorystorage__/" in err


def test_a_command_on_shared_stores_only_says_they_are_shared(installed, clean_redis):
    """Every store on a server: the command sees what runserver sees, and says only that."""
    installed.STORAGES = {
        "default": {
            "BACKEND": "inmemorystorage.InMemoryStorage",
            "OPTIONS": {"namespace": "media", "server": clean_redis},
        },
        "staticfiles": STATIC,
    }
    _out, err = run("stats")
    assert "are shared: this command acts on the files every process" in err
    assert "runs in its own process" not in err


def test_a_store_of_this_process_beside_a_shared_one_is_still_explained(installed, clean_redis):
    """One store shared, one this process's own: the command says both."""
    installed.STORAGES = {
        **installed.STORAGES,
        "shared": {
            "BACKEND": "inmemorystorage.InMemoryStorage",
            "OPTIONS": {"namespace": "shared", "server": clean_redis},
        },
    }
    _out, err = run("stats")
    assert "are shared" in err
    assert f"runs in its own process (pid {os.getpid()})" in err


def test_verbosity_0_says_nothing_but_the_data(installed):
    """-v 0 leaves only the listing."""
    storages["default"].save("a.txt", ContentFile(b"abc"))
    out, err = run("ls", verbosity=0)
    assert ("", ["3", "a.txt"]) == (err, out.splitlines()[-1].split()[::3])


def test_ls_lists_the_files_of_this_process(installed):
    """ls gives each file's size, modification time and name, sorted by name."""
    storage = storages["default"]
    storage.save("b/2.txt", ContentFile(b"xx"))
    storage.save("a.txt", ContentFile(b"x" * 1500))
    out, _err = run("ls", "default")
    lines = out.splitlines()
    assert "STORAGES['default'], namespace 'media': 2 files" == lines[0]
    assert [("1,500", "a.txt"), ("2", "b/2.txt")] == [
        (line.split()[0], line.split()[-1]) for line in lines[1:]
    ]


def test_ls_lists_a_shared_namespace_as_every_process_sees_it(installed, clean_redis):
    """On Redis, ls lists the namespace's files with their sizes, from the server."""
    options = {"namespace": "media", "server": clean_redis}
    installed.STORAGES = {
        "default": {"BACKEND": "inmemorystorage.InMemoryStorage", "OPTIONS": options},
        "staticfiles": STATIC,
    }
    InMemoryStorage(**options).save("b/2.txt", ContentFile(b"xx"))  # as another process would
    storages["default"].save("a.txt", ContentFile(b"x" * 1500))
    out, _err = run("ls", "default")
    assert [("1,500", "a.txt"), ("2", "b/2.txt")] == [
        (line.split()[0], line.split()[-1]) for line in out.splitlines()[1:]
    ]


def test_ls_gives_times_in_time_zone_as_the_page_does(installed, settings):
    """A file's time reads as the storage page and runserver's log read it: in TIME_ZONE."""
    settings.TIME_ZONE = "Asia/Kathmandu"  # UTC+05:45: no other zone's clock agrees with it
    name = storages["default"].save("a.txt", ContentFile(b"x"))
    modified = storages["default"].get_modified_time(name)
    out, _err = run("ls", "default")
    shown = " ".join(out.splitlines()[-1].split()[1:3])
    assert timezone.localtime(modified).strftime("%Y-%m-%d %H:%M:%S") == shown


def test_ls_load_shows_what_a_tar_holds(installed, tmp_path):
    """ls --load lists a tar (a download of the storage page) as the storage holds it."""
    archive = tar_of({"photos/cat.png": b"p" * 10}, tmp_path / "media.tar")
    out, err = run("ls", "--load", str(archive))
    assert "photos/cat.png" in out
    assert "Loaded 1 file(s), 10\xa0bytes, into STORAGES['default']" in err


def test_stats_gives_the_budget(installed):
    """stats gives files, bytes used against max_bytes with the share, and the counters."""
    storages["default"].save("a.txt", ContentFile(b"x" * 100))
    used = storages["default"].stats().bytes_used
    out, _err = run("stats")
    assert f"{used:,} of 65,536 bytes used ({100 * used / 65536:.1f} %), on_full='evict'" in out


def test_stats_of_an_unbounded_store_says_so(installed):
    """A store without max_bytes gives its bytes used and says there is no bound."""
    InMemoryStorage(namespace="free").save("a.txt", ContentFile(b"x"))
    out, _err = run("stats", "namespace:free")
    assert "namespace 'free'\n  1 files, 0 directories\n" in out
    assert "bytes used, no max_bytes" in out


def test_a_dump_that_cannot_be_written_is_a_command_error(installed, tmp_path):
    """A target in a missing directory is named in the error."""
    with pytest.raises(CommandError, match=r"Could not write .*nowhere"):
        run("dump", str(tmp_path / "nowhere" / "out.tar"))


def test_dump_writes_a_tar_of_the_store(installed, tmp_path):
    """dump writes the files this process holds to a tar at the path given."""
    storages["default"].save("notes/a.txt", ContentFile(b"alpha"))
    target = tmp_path / "out.tar"
    _out, err = run("dump", "default", str(target))
    with tarfile.open(target) as archive:
        assert ["notes/a.txt"] == archive.getnames()
    assert "Wrote 1 file(s) of STORAGES['default'], namespace 'media'" in err


def test_load_stores_a_directory_and_says_it_goes_with_the_process(installed, tmp_path):
    """load takes a directory too, and says the files last as long as the command."""
    (tmp_path / "fixtures").mkdir()
    (tmp_path / "fixtures" / "logo.svg").write_bytes(b"<svg/>")
    _out, err = run("load", str(tmp_path / "fixtures"))
    assert b"<svg/>" == storages["default"].open("logo.svg").read()
    assert "They are gone when this command exits" in err


def test_a_load_that_is_refused_is_a_command_error(installed, tmp_path):
    """An existing name without --replace refuses the whole load, with the reason."""
    storages["default"].save("a.txt", ContentFile(b"kept"))
    archive = tar_of({"a.txt": b"new"}, tmp_path / "media.tar")
    with pytest.raises(CommandError, match=r"Nothing was loaded from .* 'a.txt' already exists"):
        run("load", str(archive))
    assert b"kept" == storages["default"].open("a.txt").read()


def test_load_replace_overwrites(installed, tmp_path):
    """--replace overwrites files of the same name."""
    storages["default"].save("a.txt", ContentFile(b"old"))
    run("load", "--replace", str(tar_of({"a.txt": b"new"}, tmp_path / "media.tar")))
    assert b"new" == storages["default"].open("a.txt").read()


def test_a_missing_source_is_a_command_error(installed, tmp_path):
    """A path that does not exist is named in the error."""
    with pytest.raises(CommandError, match="does not exist: give a tar file, a directory"):
        run("load", str(tmp_path / "nope.tar"))


def test_clear_empties_the_store_of_this_process(installed):
    """clear removes this process's files, and says runserver's are untouched."""
    storages["default"].save("a.txt", ContentFile(b"x"))
    _out, err = run("clear")
    assert (0, True) == (storages["default"].stats().files, "files are untouched" in err)


def test_a_namespace_outside_storages_is_a_store(installed):
    """namespace:<name> names a store that no alias configures."""
    InMemoryStorage(namespace="thumbs").save("t.png", ContentFile(b"t"))
    out, _err = run("ls", "namespace:thumbs")
    assert "t.png" in out


def test_a_namespace_that_an_alias_reaches_is_found_by_its_namespace_too(installed):
    """namespace:<name>, as --help offers it, finds the store of an alias with that namespace."""
    storages["default"].save("a.txt", ContentFile(b"x"))
    out, _err = run("ls", "namespace:media")
    assert "a.txt" in out


def test_an_unknown_store_lists_the_stores(installed):
    """A store name that this process does not have gets the list of those it has."""
    with pytest.raises(CommandError, match=r"No in-memory store 'nope' .* the stores are: default"):
        run("ls", "nope")


def test_a_storage_on_disk_is_named_as_such(installed):
    """An alias of another backend is not an in-memory storage: the error says its backend."""
    with pytest.raises(CommandError, match="'staticfiles'] is not an in-memory storage"):
        run("stats", "staticfiles")


def test_a_storage_that_cannot_be_built_says_why(installed):
    """An alias with bad OPTIONS gets the constructor's message."""
    installed.STORAGES = {
        "default": {"BACKEND": "inmemorystorage.InMemoryStorage", "OPTIONS": {"on_ful": 1}},
        "staticfiles": STATIC,
    }
    with pytest.raises(CommandError, match=r"cannot be built: .*unknown option"):
        run("stats", "default")


def test_too_many_arguments_are_a_usage_error(installed):
    """dump takes [STORE] TARGET: a third word is a usage error (exit status 2)."""
    with pytest.raises(CommandError) as refused:
        run("dump", "default", "a.tar", "b.tar")
    assert 2 == refused.value.returncode
    assert str(refused.value).startswith("expected [STORE] TARGET, got 3 arguments")


# As a user runs it: its own process, exit statuses and --help.


@pytest.fixture
def project(tmp_path):
    """A settings module with the app and an in-memory default storage, for `django-admin`."""
    (tmp_path / "command_settings.py").write_text(
        textwrap.dedent(
            """
            SECRET_KEY = "command-tests"
            INSTALLED_APPS = ["inmemorystorage"]
            STORAGES = {
                "default": {
                    "BACKEND": "inmemorystorage.InMemoryStorage",
                    "OPTIONS": {"namespace": "media"},
                },
                "staticfiles": {
                    "BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"
                },
            }
            USE_TZ = True
            """
        )
    )
    return tmp_path


def django_admin(project, *args, stdin=None):
    """``django-admin inmemorystorage ARGS`` in its own process, as a user runs it."""
    env = {k: v for k, v in os.environ.items() if k != "DJANGO_SETTINGS_MODULE"}
    env["PYTHONPATH"] = os.pathsep.join([str(project), env.get("PYTHONPATH", "")])
    return subprocess.run(
        [sys.executable, "-m", "django", "inmemorystorage", *args],
        cwd=project,
        env={**env, "DJANGO_SETTINGS_MODULE": "command_settings"},
        input=stdin,
        capture_output=True,
        timeout=120,
        check=False,
    )


def test_help_says_what_it_can_and_cannot_see(project):
    """--help lists the subcommands and says the command cannot see runserver's files."""
    done = django_admin(project, "--help")
    text = " ".join(done.stdout.decode().split())
    assert 0 == done.returncode
    assert "{ls,stats,dump,load,clear,repair}" in text
    assert "Runs in its own process" in text


@pytest.mark.parametrize("subcommand", SUBCOMMANDS)
def test_each_subcommand_has_help(project, subcommand):
    """Every subcommand answers --help with its usage."""
    done = django_admin(project, subcommand, "--help")
    assert (0, True) == (
        done.returncode,
        f"inmemorystorage {subcommand}" in done.stdout.decode(),
    )


def test_no_subcommand_is_a_usage_error(project):
    """Without a subcommand the command prints its usage and exits with status 2."""
    done = django_admin(project)
    required = "the following arguments are required: {ls,stats,dump,load,clear,repair}"
    assert (2, True) == (done.returncode, required in done.stderr.decode())


def test_a_command_error_exits_with_status_1(project):
    """A refused store exits with 1 and the message on stderr, as Django's commands do."""
    done = django_admin(project, "ls", "nope")
    assert (1, True) == (
        done.returncode,
        "CommandError: No in-memory store" in done.stderr.decode(),
    )


def test_a_fresh_process_holds_nothing(project):
    """Started anew, the command's process holds no file, whatever a runserver holds."""
    done = django_admin(project, "stats")
    assert (0, True) == (done.returncode, "0 files, 0 directories" in done.stdout.decode())


def test_dump_to_stdout_is_a_tar(project, tmp_path):
    """dump - writes the tar to standard output, with the progress line on stderr."""
    done = django_admin(project, "dump", "-")
    with tarfile.open(fileobj=io.BytesIO(done.stdout)) as archive:
        assert [] == archive.getnames()
    assert "Wrote 0 file(s)" in done.stderr.decode()


@pytest.mark.parametrize(
    "args",
    [["ls", "-v", "0"], ["ls", "default", "--verbosity=0"], ["-v0", "ls"], ["stats", "-v0"]],
)
def test_django_options_go_after_the_subcommand_too(project, args):
    """``ls -v 0`` as ``migrate app -v 0``: Django's options wherever a developer types them."""
    done = django_admin(project, *args)
    assert (0, b"") == (done.returncode, done.stderr)


def test_dump_to_stdout_quietly_is_a_tar(project):
    """dump - -v0: only the tar, on standard output."""
    done = django_admin(project, "dump", "-", "-v0", "--traceback", "--no-color")
    assert (0, b"") == (done.returncode, done.stderr)
    with tarfile.open(fileobj=io.BytesIO(done.stdout)) as archive:
        assert [] == archive.getnames()


def test_an_unknown_option_after_the_subcommand_is_still_a_usage_error(project):
    """Only Django's own options are taken there: anything else exits with 2."""
    done = django_admin(project, "ls", "--verbose")
    assert (2, True) == (
        done.returncode,
        "unrecognized arguments: --verbose" in done.stderr.decode(),
    )


def test_load_from_stdin(project, tmp_path):
    """load - reads the tar from standard input."""
    archive = tar_of({"in.txt": b"piped"}, tmp_path / "in.tar").read_bytes()
    done = django_admin(project, "load", "-", stdin=archive)
    assert (0, True) == (done.returncode, "Loaded 1 file(s)" in done.stderr.decode())


# python -m inmemorystorage.


def test_python_m_says_what_it_cannot_do_and_what_can():
    """python -m inmemorystorage says it sees no file, and points to the page and the command."""
    done = subprocess.run(
        [sys.executable, "-m", "inmemorystorage"], capture_output=True, timeout=60, check=False
    )
    text = done.stdout.decode()
    assert 0 == done.returncode
    assert "cannot show or change any stored file: it runs in a" in text
    assert ("/__inmemorystorage__/" in text, "python manage.py inmemorystorage --help" in text) == (
        True,
        True,
    )


def test_python_m_refuses_a_command_with_the_manage_py_line(capsys):
    """Given a command, it exits with status 2 and gives the manage.py line to run instead."""
    assert 2 == main(["ls", "default"])
    expected = "In your project, run: python manage.py inmemorystorage ls default\n"
    assert capsys.readouterr().err.endswith(expected)


def test_python_m_prints_its_version(capsys):
    """--version gives the installed version, as any command-line tool does."""
    with pytest.raises(SystemExit) as exited:
        main(["--version"])
    assert (0, f"python -m inmemorystorage {version('dj-inmemorystorage')}\n") == (
        exited.value.code,
        capsys.readouterr().out,
    )
