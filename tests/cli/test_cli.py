"""The `lic` command end to end: round trips, and one clear line for every bad input."""

import argparse
import json
import subprocess
import sys

import numpy as np
import pytest
import torch
from PIL import Image

from lic.bitstream import FORMAT_VERSION, Header, pack
from lic.defaults import DEFAULT_MODEL
from lic.models.registry import get_spec, save_weights
from tests.conftest import synthetic_photo

MODEL = DEFAULT_MODEL  # the CLI tests exercise the default model


def lic(*args, stdin: bytes | None = None) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "lic", *map(str, args)],
        capture_output=True,
        input=stdin,
        timeout=300,
    )


@pytest.fixture(scope="module")
def weights(tmp_path_factory):
    """Untrained weights of the registered architecture: the CLI path is what is tested."""
    folder = tmp_path_factory.mktemp("weights")
    paths = []
    for seed in (0, 1):
        torch.manual_seed(seed)
        model = get_spec(MODEL).build(None)
        path = folder / f"w{seed}.safetensors"
        save_weights(model, path)
        paths.append(path)
    return paths


@pytest.fixture(scope="module")
def encoded(tmp_path_factory, weights):
    folder = tmp_path_factory.mktemp("cli")
    png = folder / "photo.png"
    Image.fromarray(synthetic_photo(45, 70)).save(png)
    result = lic("compress", png, "--model", MODEL, "--quality", 3.5, "--weights", weights[0])
    assert result.returncode == 0, result.stderr
    return png, folder / "photo.lic"


def _one_line_error(result: subprocess.CompletedProcess) -> str:
    err = result.stderr.decode()
    assert result.returncode == 1, err
    assert "Traceback" not in err and err.count("\n") == 1 and err.startswith("lic: error: "), err
    return err


def test_compress_then_decompress(encoded, weights, tmp_path):
    png, lic_file = encoded
    out = tmp_path / "out.png"
    result = lic("decompress", lic_file, "-o", out, "--weights", weights[0])
    assert result.returncode == 0, result.stderr
    assert Image.open(out).size == Image.open(png).size


@pytest.mark.parametrize(
    "suffix,fmt", [(".jpg", "JPEG"), (".webp", "WEBP"), (".tiff", "TIFF"), (".bmp", "BMP")]
)
def test_decompress_writes_the_format_of_the_extension(encoded, weights, tmp_path, suffix, fmt):
    _, lic_file = encoded
    out = tmp_path / f"out{suffix}"
    result = lic("decompress", lic_file, "-o", out, "--weights", weights[0])
    assert result.returncode == 0, result.stderr
    assert Image.open(out).format == fmt


def test_jpeg_quality_and_an_unknown_extension(encoded, weights, tmp_path):
    _, lic_file = encoded
    sizes = []
    for quality in (30, 95):
        out = tmp_path / f"q{quality}.jpg"
        lic("decompress", lic_file, "-o", out, "--weights", weights[0], "--jpeg-quality", quality)
        sizes.append(out.stat().st_size)
    assert sizes[0] < sizes[1]
    error = _one_line_error(lic("decompress", lic_file, "-o", tmp_path / "out.xyz"))
    assert "unknown image extension" in error and not (tmp_path / "out.xyz").exists()


def test_strip_drops_the_metadata(weights, tmp_path):
    png = tmp_path / "tagged.png"
    Image.fromarray(synthetic_photo(45, 70)).save(png, icc_profile=b"\0" * 300)
    sizes = {}
    for strip in ((), ("--strip",)):
        out = tmp_path / f"tagged{len(strip)}.lic"
        args = ("--model", MODEL, "--quality", 3.5, "--weights", weights[0], *strip)
        assert lic("compress", png, "-o", out, *args).returncode == 0
        sizes[bool(strip)] = out.stat().st_size
        decoded = tmp_path / f"tagged{len(strip)}.png"
        assert lic("decompress", out, "-o", decoded, "--weights", weights[0]).returncode == 0
        assert ("icc_profile" in Image.open(decoded).info) != bool(strip)
    assert sizes[False] - sizes[True] >= 300


def test_info_reports_the_real_bpp(encoded):
    _, lic_file = encoded
    result = lic("info", lic_file)
    assert result.returncode == 0
    bpp = 8 * lic_file.stat().st_size / (45 * 70)
    assert f"bpp:      {bpp:.4f}" in result.stdout.decode()
    assert "quality:  3.5" in result.stdout.decode()


def test_stdout_and_stdin(encoded, weights):
    png, lic_file = encoded
    result = lic(
        "compress", png, "-o", "-", "--model", MODEL, "--quality", 3.5, "--weights", weights[0]
    )
    assert result.returncode == 0 and result.stdout == lic_file.read_bytes()
    result = lic("decompress", "-", "-o", "-", "--weights", weights[0], stdin=result.stdout)
    assert result.returncode == 0 and result.stdout.startswith(b"\x89PNG")


def test_truncated_file(encoded, weights, tmp_path):
    data = encoded[1].read_bytes()
    for cut in (1, 10, len(data) // 2, len(data) - 1):
        bad = tmp_path / "cut.lic"
        bad.write_bytes(data[:cut])
        _one_line_error(lic("decompress", bad, "--weights", weights[0]))


def test_flipped_byte(encoded, weights, tmp_path):
    data = bytearray(encoded[1].read_bytes())
    data[len(data) // 2] ^= 0x01
    bad = tmp_path / "flip.lic"
    bad.write_bytes(bytes(data))
    assert "checksum" in _one_line_error(lic("decompress", bad, "--weights", weights[0]))


def test_empty_file(tmp_path):
    bad = tmp_path / "empty.lic"
    bad.write_bytes(b"")
    assert "empty" in _one_line_error(lic("decompress", bad))


def test_file_written_with_other_weights(encoded, weights):
    assert "weights" in _one_line_error(lic("decompress", encoded[1], "--weights", weights[1]))


def test_giant_header(tmp_path):
    header = Header(MODEL, 4.0, bytes(8), 100_000, 100_000, "RGB", [], [])
    bad = tmp_path / "giant.lic"
    bad.write_bytes(pack(header, []))
    assert "exceeds" in _one_line_error(lic("decompress", bad))


def test_non_image_input(tmp_path, weights):
    fake = tmp_path / "notes.png"
    fake.write_text("this is not an image\n")
    assert "cannot read" in _one_line_error(lic("compress", fake, "--weights", weights[0]))
    missing = _one_line_error(lic("compress", tmp_path / "missing.png"))
    assert missing == f"lic: error: no such file: {tmp_path / 'missing.png'}\n"
    directory = _one_line_error(lic("compress", tmp_path))
    assert directory == f"lic: error: {tmp_path} is a directory, not an image\n"


def test_wrong_model_and_quality(encoded, weights):
    png, _ = encoded
    assert "unknown model" in _one_line_error(lic("compress", png, "--model", "nope"))
    assert "quality" in _one_line_error(
        lic("compress", png, "--model", MODEL, "--quality", 9, "--weights", weights[0])
    )


def test_a_valid_file_of_an_unknown_model(tmp_path):
    header = Header("somebody-else", 1.0, bytes(8), 10, 10, "RGB", [(1, 1, 1)], [4])
    bad = tmp_path / "other.lic"
    bad.write_bytes(pack(header, [bytes(4)]))
    assert "unknown model" in _one_line_error(lic("decompress", bad))


def test_greyscale_round_trip(tmp_path, weights):
    png = tmp_path / "grey.png"
    Image.fromarray(synthetic_photo(30, 33)[:, :, 1], "L").save(png)
    assert lic("compress", png, "--weights", weights[0]).returncode == 0
    result = lic(
        "decompress", tmp_path / "grey.lic", "-o", tmp_path / "g.png", "--weights", weights[0]
    )
    assert result.returncode == 0 and Image.open(tmp_path / "g.png").mode == "L"
    assert np.asarray(Image.open(tmp_path / "g.png")).shape == (30, 33)


def test_size_target_on_the_command_line(encoded, weights, tmp_path):
    png, _ = encoded
    out = tmp_path / "small.lic"
    err = _one_line_error(lic("compress", png, "--size", "10", "-o", out, "--weights", weights[0]))
    assert "cannot fit" in err and not out.exists()
    result = lic("compress", png, "--size", "2KB", "-o", out, "--weights", weights[0])
    assert result.returncode == 0, result.stderr
    assert out.stat().st_size <= 2000


def test_refine_on_the_command_line(encoded, tmp_path):
    """--refine writes a file the plain decoder reads, with the shipped default; a model
    without refinement, or a negative count, is one line of error."""
    png, _ = encoded
    out, back = tmp_path / "refined.lic", tmp_path / "refined.png"
    result = lic("compress", png, "--refine", "20", "-o", out)
    assert result.returncode == 0, result.stderr
    plain = tmp_path / "plain.lic"
    assert lic("compress", png, "-o", plain).returncode == 0
    assert out.read_bytes() != plain.read_bytes()
    assert lic("decompress", out, "-o", back).returncode == 0
    assert Image.open(back).size == Image.open(png).size
    factorized = lic("compress", png, "--model", "bmshj2018-factorized-vr", "--refine", "3")
    assert "no latent refinement" in _one_line_error(factorized)
    assert "0 or more" in _one_line_error(lic("compress", png, "--refine", "-1", "-o", out))


def test_the_default_codes_down_to_quality_0(encoded, weights, tmp_path):
    png, _ = encoded
    out, back = tmp_path / "q0.lic", tmp_path / "q0.png"
    result = lic("compress", png, "--quality", "0", "-o", out, "--weights", weights[0])
    assert result.returncode == 0, result.stderr
    assert "quality:  0\n" in lic("info", out).stdout.decode()
    assert lic("decompress", out, "-o", back, "--weights", weights[0]).returncode == 0
    assert Image.open(back).size == Image.open(png).size
    err = _one_line_error(
        lic("compress", png, "--quality", "-0.5", "-o", out, "--weights", weights[0])
    )
    assert "[0, 8]" in err


def test_fold_then_code_with_the_fixed_rate_model(tmp_path):
    """A variable-rate model folds into its fixed-rate twin where their sizes match
    (he2021-checkerboard q1–4), and says so in one line where they do not."""
    model = "he2021-checkerboard-vr"
    png, weights = tmp_path / "photo.png", tmp_path / "w.safetensors"
    Image.fromarray(synthetic_photo(45, 70)).save(png)
    torch.manual_seed(0)
    save_weights(get_spec(model).build(None), weights)
    folded = tmp_path / "q3.safetensors"
    result = lic("fold", "--model", model, "--quality", 3, "--weights", weights, "-o", folded)
    assert result.returncode == 0, result.stderr
    fixed, variable = tmp_path / "fixed.lic", tmp_path / "variable.lic"
    args = ("--quality", 3, "--model", model.removesuffix("-vr"), "--weights", folded, "-o", fixed)
    assert lic("compress", png, *args).returncode == 0
    args = ("--quality", 3, "--model", model, "--weights", weights, "-o", variable)
    assert lic("compress", png, *args).returncode == 0
    # Same latents and streams; only the header's model name and quality field differ.
    assert abs(fixed.stat().st_size - variable.stat().st_size) <= 8
    assert "do not fold" in _one_line_error(
        lic("fold", "--model", model, "--quality", 7, "--weights", weights, "-o", folded)
    )


@pytest.mark.parametrize("model", ["bmshj2018-hyperprior-vr", "minnen2020-vr"])
def test_eval_sweeps_every_integer_quality_of_the_model(model, tmp_path):
    """Eight rate points give qualities 1–8; nine (with lic's quality 0) give 0–8."""
    folder = tmp_path / "images"
    folder.mkdir()
    Image.fromarray(synthetic_photo(64, 64, seed=3)).save(folder / "a.png")
    torch.manual_seed(0)
    save_weights(get_spec(model).build(None), tmp_path / "w.safetensors")
    out = tmp_path / "eval.json"
    args = ["eval", folder, "--model", model, "--weights", tmp_path / "w.safetensors"]
    result = lic(*args, "--json", out, "--no-progress")
    assert result.returncode == 0, result.stderr
    lowest = 9 - get_spec(model).config(None)["rate_points"]
    assert json.loads(out.read_text())["results"]["quality"] == [str(q) for q in range(lowest, 9)]


def test_many_files_with_out_dir_go_on_past_a_failure(weights, tmp_path):
    inputs = []
    for i in range(3):
        path = tmp_path / f"p{i}.png"
        Image.fromarray(synthetic_photo(40 + 8 * i, 56, seed=i)).save(path)
        inputs.append(path)
    broken = tmp_path / "broken.png"
    broken.write_text("not an image")
    out = tmp_path / "out"
    args = ("--model", MODEL, "--quality", 3, "--weights", weights[0], "--out-dir", out)
    result = lic("compress", inputs[0], broken, *inputs[1:], *args)
    err = result.stderr.decode()
    assert result.returncode == 1 and "Traceback" not in err
    assert f"lic: error: {broken}: cannot read" in err and "3 files" in err and "1 failed" in err
    assert sorted(p.name for p in out.iterdir()) == ["p0.lic", "p1.lic", "p2.lic"]
    decoded = tmp_path / "decoded"
    result = lic(
        "decompress", *sorted(out.iterdir()), "--out-dir", decoded, "--weights", weights[0]
    )
    assert result.returncode == 0, result.stderr
    sizes = [Image.open(decoded / f"p{i}.decoded.png").size for i in range(3)]
    assert sizes == [(56, 40), (56, 48), (56, 56)]
    assert "-o names one output" in _one_line_error(lic("compress", *inputs, "-o", "x.lic"))


def test_stdin_without_output_goes_to_stdout_and_quiet_prints_nothing(encoded, weights):
    png, lic_file = encoded
    args = ("--model", MODEL, "--quality", 3.5, "--weights", weights[0])
    result = lic("compress", "-", "-q", *args, stdin=png.read_bytes())
    assert result.returncode == 0 and result.stderr == b""
    assert result.stdout == lic_file.read_bytes()


def test_fast_commands_do_not_import_torch(encoded):
    _, lic_file = encoded
    code = (
        "import sys; from lic.cli import main\n"
        "for argv in (['info', sys.argv[1]], ['--version'], ['compress', '--help'],\n"
        "             ['models', '-v']):\n"
        "    try: main(argv)\n"
        "    except SystemExit: pass\n"
        "print('torch' in sys.modules, file=sys.stderr)"
    )
    result = subprocess.run([sys.executable, "-c", code, str(lic_file)], capture_output=True)
    assert result.stderr.decode().strip().splitlines()[-1] == "False"
    assert (
        b"lic 0." in result.stdout
        and f"format:   version {FORMAT_VERSION}".encode() in result.stdout
    )
    listed = [line for line in result.stdout.decode().splitlines() if line.startswith(MODEL)]
    assert "shipped; Kodak 0." in listed[0]  # the registry's data and the card, without torch
    marked = [line for line in result.stdout.decode().splitlines() if "the default" in line]
    assert marked == [listed[0]]  # `lic models` names the default, and nothing else as it


def test_every_option_has_help():
    from lic.cli import build_parser

    parser = build_parser()
    commands = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    for name, command in commands.choices.items():
        for action in command._actions:
            assert action.help, f"lic {name} {action.option_strings or action.dest} has no help"
