"""The ``tfface`` command line: one entry point, a subcommand per task, one way to fail.

::

    tfface train [flags]                 train, or resume, an editor (python train.py is the same)
    tfface export --run_dir RUN          SavedModel for TF Serving + TFLite (python export.py is the same)
    tfface edit --input photo.jpg --output edited.jpg --remove Eyeglasses --add Smiling
    tfface pretrained                    the bundled editors
    tfface demo                          a local web page to edit your photo
    tfface evaluate --run_dir RUN
    tfface iterative transform --run_dir RUN a.jpg --set Eyeglasses=1
    tfface judge --data celeba:DIR --image_size 64

Parsing is argparse; ``--help`` on every command lists every flag with its
default.  ``tfface train``'s flags are generated from the declarations in
:mod:`tfface.settings`.  Every error ends in :func:`fail` with the exit codes
of :mod:`tfface.errors`; ``TFFACE_DEBUG=1`` shows the traceback instead.

Each command imports what it runs, inside its function: parsing, ``--help``, a bad flag, ``tfface
pretrained`` and ``tfface edit`` with TFLite editors never start TensorFlow (seconds, and half a
gigabyte); the commands that need it load it through :func:`_tensorflow`, which keeps its start-up
lines off the terminal.
"""

from __future__ import annotations

import argparse
import math
import os
import sys
import typing

import numpy as np

from tfface import errors, files, litert, photo, pretrained, recipes
from tfface.data.images import load_image, load_photo
from tfface.errors import DataError, Interrupted, TffaceError, UsageError
from tfface.export import FORMATS, TFLITE_VARIANTS
from tfface.native_logs import silenced_native_stderr
from tfface.settings import DIRECTIONS, FIELDS, GROUPS, TYPES, Settings
from tfface.training import launcher


def _tensorflow():
    """Import TensorFlow for a command that needs it, with its C++ start-up lines kept off stderr; call it
    before importing any module that imports TensorFlow."""
    with silenced_native_stderr():
        import tensorflow as tf
    return tf


class ParseError(UsageError):
    """A command line argparse refused; ``prog`` names the (sub)command it belongs to."""

    def __init__(self, message, prog):
        super().__init__(message)
        self.prog = prog


class _Parser(argparse.ArgumentParser):
    """argparse, with usage errors raised (and reported by :func:`main`) instead of printed."""

    def error(self, message):
        raise ParseError(message, self.prog)


def _help(text, default):
    return f"{text} (default: {default})" if default is not None else text


# -- train ------------------------------------------------------------------------------------
def _setting_type(name):
    hint = TYPES[name]
    args = [a for a in typing.get_args(hint) if a is not type(None)]
    return args[0] if args else hint


def add_settings_flags(parser):
    """One flag per setting (``--name``; booleans also ``--no_name``), grouped as declared.

    A flag not given leaves no attribute (``argparse.SUPPRESS``), so a recipe's value can stand in for the
    default; the help still shows the default."""
    groups = {g: parser.add_argument_group(title) for g, title in GROUPS.items()}
    for name, f in FIELDS.items():
        meta, group, kind = f.metadata, groups[f.metadata["group"]], _setting_type(name)
        if kind is bool:
            group.add_argument(f"--{name}", dest=name, action="store_true", default=argparse.SUPPRESS,
                               help=_help(meta["help"], "on" if f.default else "off"))
            group.add_argument(f"--no_{name}", dest=name, action="store_false", default=argparse.SUPPRESS,
                               help=argparse.SUPPRESS)
        else:
            group.add_argument(f"--{name}", type=kind, default=argparse.SUPPRESS, choices=meta["choices"],
                               metavar=name.upper(), help=_help(meta["help"], f.default))


def settings_from_args(args, base=None) -> Settings:
    """The defaults, replaced by ``base`` (a recipe's settings), replaced by the flags given."""
    given = {name: getattr(args, name) for name in FIELDS if hasattr(args, name)}
    return Settings(**{**(base or {}), **given})


def cmd_train(args):
    if args.workers > 1:
        if getattr(args, "strategy", "multiworker") != "multiworker":
            raise UsageError(f"--workers starts --strategy=multiworker workers; drop --strategy={args.strategy}")
        launcher.run_local_workers(args.argv, args.workers, say=lambda m: print(m, flush=True))
        return
    recipe_name, base = recipes.load(args.recipe) if args.recipe else (None, None)
    settings = settings_from_args(args, base).validate()
    _tensorflow()
    from tfface.methods import get as get_method
    from tfface.training import loop

    method = get_method(settings.method)
    run_dir = args.run_dir or (os.path.join("runs", recipe_name) if recipe_name else method.default_run_dir(settings))
    if os.path.exists(run_dir) and not os.path.isdir(run_dir):
        raise UsageError(f"--run_dir {run_dir} is a file, not a directory")
    args.exit_at_once = settings.strategy == "multiworker"  # see main()
    try:
        loop.train(settings, run_dir, method)
    except KeyboardInterrupt:
        raise Interrupted(f"interrupted; re-run the same command to resume {run_dir} from its last checkpoint") from None


# -- export -----------------------------------------------------------------------------------
def _csv(text):
    return [t for t in text.split(",") if t]


def cmd_export(args):
    say = lambda m: print(m, flush=True)  # noqa: E731
    if (args.run_dir is None) == (args.pretrained is None):
        raise UsageError("give one of --run_dir (a training run) or --pretrained NAME (a bundled editor: "
                         f"{pretrained.describe()})")
    _tensorflow()
    from tfface.export.exporter import export_run, export_trained
    from tfface.pretrained import building

    if args.pretrained is None:
        target = export_run(args.run_dir, args.out, args.formats or list(FORMATS), args.version, args.overwrite, args.model_name,
                            args.tflite_variants, args.report_images, say=say)
    else:
        entry = pretrained.find_any(args.pretrained)
        if args.formats is not None and "tflite" in args.formats:
            raise UsageError(f"a bundled model's TFLite models ship beside it, in "
                             f"{os.path.join(pretrained.root(), entry['name'])}; export --formats=saved_model")
        target = export_trained(building.load(entry), args.out, ("saved_model",), args.version, args.overwrite,
                                args.model_name or entry["name"], args.tflite_variants, args.report_images, say=say)
        if entry.get("strength"):  # the signatures take the raw scale
            print("its recommended strength (the scale its val scores were measured at; pass it as the signatures' "
                  "strength input): " + ", ".join(f"{d} {pretrained.recommended_strength(entry, d):g}" for d in DIRECTIONS))
    print(f"exported: {target}")


def cmd_demo(args):
    _tensorflow()
    import tfface.demo  # Gradio takes seconds to import: only for this command

    print(f"tfface demo on http://{args.host}:{args.port} (Ctrl-C stops it)", flush=True)
    tfface.demo.launch(args.model, args.host, args.port)


def cmd_pretrained(args):
    rows = pretrained.entries()
    if not rows and not pretrained.iterative_entries():
        print(f"no bundled editors in {pretrained.root()}")
    for e in rows:
        val = e.get("val") or {}
        scores = []
        for d in DIRECTIONS:
            m = val.get(d) or {}
            shown = [f"{label} {m[key]:.2f}" for key, label in (("flip_rate", "flip"), ("identity_median", "identity"),
                                                               ("region_energy", "region")) if m.get(key) is not None]
            if shown:
                scores.append(f"{d}: " + " ".join(shown))
            s = pretrained.recommended_strength(e, d)
            if shown and s != 1.0:
                scores[-1] += f" (at strength {s:g})"
        recipe = e.get("recipe", "-")
        if e.get("remove_from"):  # a composite editor
            recipe = f"{recipe} (remove: {e['remove_from'].get('recipe', '-')})"
        print(f"{e['name']:<22} {e['attribute']:<22} {e['image_size']} px  recipe {recipe}  " + "  ".join(scores))
    for e in pretrained.iterative_entries():
        val = e.get("val") or {}
        shown = [f"{label} {val[key]:.3f}" for key, label in (
            ("hamming_loss", "Hamming"), ("reconstruction_psnr", "rebuild PSNR"),
            ("reconstruction_identity_median", "rebuild identity"), ("mean_flip_rate", "mean flip"))
            if val.get(key) is not None]
        print(f"{e['name']:<22} {'iterative GAN':<22} {e['image_size']} px  recipe {e.get('recipe', '-')}  "
              f"{len(e['attributes'])} attributes: {', '.join(e['attributes'])}  " + "  ".join(shown))


# -- edit -------------------------------------------------------------------------------------
def _same_file(a, b):
    if os.path.realpath(a) == os.path.realpath(b):
        return True
    return os.path.exists(a) and os.path.exists(b) and os.path.samefile(a, b)


class _EditAction(argparse.Action):
    """--add NAME / --remove NAME, kept in command-line order in ``args.edits`` as (direction, name)."""

    def __call__(self, parser, namespace, values, option_string=None):
        namespace.edits = [*(getattr(namespace, "edits", None) or []), (self.dest, values)]


def _editors(args):
    """The chain of editors: bundled ones for --add/--remove, or --model with --direction.  A .tflite model,
    and a bundled editor's float16 TFLite file, run on ai_edge_litert without TensorFlow; a SavedModel, or
    any editor when ai_edge_litert is not installed, on TensorFlow."""
    edits = getattr(args, "edits", None) or []
    if args.model is not None:
        if edits:
            raise UsageError("--add/--remove pick bundled editors; with --model use --direction")
        if str(args.model).endswith(".tflite") and os.path.isfile(args.model) and litert.available():
            return [photo.TFLiteEditor(args.model, args.direction)]
        _tensorflow()
        from tfface import editors

        return [editors.load_editor(args.model, args.direction)]
    if not edits:
        raise UsageError(f"say what to edit: --add or --remove ATTRIBUTE (bundled: {pretrained.describe()}), "
                         f"or --model M --direction add|remove")
    chain = []
    for direction, name in edits:
        entry = pretrained.find(name)
        lite = pretrained.tflite_file(entry, "float16")
        if lite and litert.available():
            chain.append(photo.TFLiteEditor(lite, direction, pretrained.recommended_strength(entry, direction)))
            continue
        _tensorflow()
        from tfface.pretrained import building

        chain.append(building.keras_editors(entry)[direction])
    return chain


def _check_photo_output(source, output, overwrite, strength):
    """The checks before a photo is edited: the output is a new file of a known format (or --overwrite) in a
    folder that exists, never the input, and the strength is finite."""
    if _same_file(source, output):
        raise UsageError("--output must differ from --input (the original photo is never overwritten)")
    if os.path.exists(output) and not overwrite:
        raise UsageError(f"{output} exists; pass --overwrite to replace it")
    if not math.isfinite(strength):
        raise UsageError("--strength must be a finite number")
    files.image_format(output)
    folder = os.path.dirname(os.path.abspath(output))
    if not os.path.isdir(folder):  # said before the photo is edited, and without the temporary file's name
        raise DataError(f"cannot write {output}: the folder {folder} does not exist")


def _edit_photo_file(source, output, make_editor, strength, all_faces):
    """Edit the photo ``source`` into ``output``; the photo is read before ``make_editor()`` loads a model, so a
    missing or broken photo is reported at once."""
    picture = load_photo(source)
    editor = make_editor()
    try:
        edited, n = photo.edit_photo(picture.rgb, editor, strength, all_faces)
    except photo.NoFaceError:
        raise DataError(f"no face found in {source}") from None
    note = ""
    if picture.rgba is not None:  # a transparent photo stays transparent where the output format can store it
        if files.keeps_transparency(output):
            edited = photo.keep_transparency(edited, picture.rgb, picture.rgba)
        else:
            note = f" (without {source}'s transparency: {files.image_format(output)} has none; .png, .webp or .tiff keep it)"
    options = picture.save_options()  # its colour profile and EXIF
    del picture  # a 24-megapixel photo is 72 MB: not held while the result is encoded
    files.save_image(edited, output, **options)
    print(f"edited {n if all_faces else 1} of {n} face(s): {output}{note}")


def cmd_edit(args):
    _check_photo_output(args.input, args.output, args.overwrite, args.strength)
    _edit_photo_file(args.input, args.output, lambda: _editors(args), args.strength, args.all_faces)


# -- evaluate ---------------------------------------------------------------------------------
def cmd_evaluate(args):
    _tensorflow()
    from tfface.evaluation.evaluate import evaluate

    evaluate(args.run_dir, args.data, args.classifier, args.images, _csv(args.compare), strength=args.strength)


def cmd_progress(args):
    _tensorflow()
    from tfface.evaluation import progress

    if not args.run_dir and not args.pretrained:
        raise UsageError("give --run_dir RUN or --pretrained NAME (repeatable)")
    bundled = []
    for name in args.pretrained or []:
        entry = pretrained.find_any(name)
        d = os.path.join(pretrained.root(), entry["name"])
        bundled.append((entry["name"], d))
        if entry.get("remove_from"):  # a composite editor: its G1's run learnt apart
            bundled.append((f"{entry['name']} (remove)", os.path.join(d, pretrained.REMOVE_RUN)))
    runs = progress.load((args.run_dir or []) + bundled)
    for name, records in runs:
        for line in progress.table_lines(name, records):
            print(line)
    if args.out:
        files.save_image(progress.chart(runs), args.out)
        print(f"wrote {args.out}")


# -- iterative --------------------------------------------------------------------------------
def _parse_sets(values):
    out = {}
    for item in values or []:
        key, sep, val = item.partition("=")
        if not sep or val not in ("0", "1"):
            raise UsageError(f"--set takes NAME=0 or NAME=1, got {item!r}")
        out[key] = int(val)
    return out


def _iterative_run(args):
    """A trained iterative GAN, from ``--run_dir`` or ``--pretrained``, and its Editor (UsageError for another
    method's run)."""
    entry = pretrained.find_iterative(args.pretrained) if args.pretrained else None
    _tensorflow()
    if entry is not None:
        from tfface.pretrained import building

        run = building.load(entry)
    else:
        from tfface.methods import load_run

        run = load_run(args.run_dir)
    ed = run.editor()
    if not hasattr(ed, "transform"):
        raise UsageError(f"{args.run_dir} holds a {run.settings.method} run, not an iterative one")
    return run, ed


def cmd_iterative(args):
    bundled = [e["name"] for e in pretrained.iterative_entries()]
    if args.run_dir is None and args.pretrained is None and len(bundled) == 1:
        args.pretrained = bundled[0]  # as tfface edit uses the bundled editor: the one bundled iterative GAN
    if (args.run_dir is None) == (args.pretrained is None):
        raise UsageError("give one of --run_dir (an iterative run) or --pretrained NAME (a bundled iterative GAN: "
                         f"{', '.join(bundled) or 'none'})")
    if args.pretrained:
        pretrained.find_iterative(args.pretrained)  # an unknown name fails before any work
    changes = _parse_sets(getattr(args, "set", None))
    if args.action == "transform" and not args.aligned:
        if len(args.images) != 1 or args.output is None:
            raise UsageError("transform edits one photo: give one image and --output (or --aligned for crops "
                             "framed like the training images, shown as a grid)")
        _check_photo_output(args.images[0], args.output, args.overwrite, args.strength)

        def make_editor():
            run, ed = _iterative_run(args)
            from tfface.editors import IterativeEditor

            return IterativeEditor(run.model, ed.attribute_names, changes)

        _edit_photo_file(args.images[0], args.output, make_editor, args.strength, args.all_faces)
        return
    from tfface.pictures import grid_image

    run, ed = _iterative_run(args)
    if args.action == "generate":
        rows = [list(ed.generate(args.num, changes, seed=args.seed))]
    else:
        x = np.stack([load_image(p, ed.image_size) for p in args.images])
        if args.action == "recognize":
            for path, p in zip(args.images, ed.recognize(x)):
                present = [f"{n}={v:.2f}" for n, v in zip(ed.attribute_names, p) if v >= 0.5]
                print(f"{path}: {', '.join(present) or '(no attribute above 0.5)'}")
            return
        y = ed.reconstruct(x) if args.action == "reconstruct" else ed.transform(x, changes)
        rows = [[a, b] for a, b in zip(x, y)]
    out = args.output or f"{args.action}.png"
    files.save_image(grid_image(rows), out)
    print(f"wrote {out}")


# -- judge ------------------------------------------------------------------------------------
def cmd_judge(args):
    _tensorflow()
    from tfface.evaluation import judge

    judge.train(args.data, args.image_size, args.epochs, args.batch_size, args.learning_rate, args.width, args.work_dir,
                args.out, args.seed, say=lambda m: print(m, flush=True))


# -- the parser -------------------------------------------------------------------------------
def build_parser():
    top = _Parser(prog="tfface", description="Face attribute manipulation: residual-image GANs and iterative GANs.",
                  epilog="Exit codes: 0 done, 1 data or file error, 2 bad flags or settings, 3 training diverged, "
                         "4 a worker lost, 130 interrupted, 141 the output's reader went away, 143 terminated.  `tfface COMMAND --help` "
                         "lists a command's flags.")
    sub = top.add_subparsers(dest="command", metavar="COMMAND", required=True, parser_class=_Parser)

    p = sub.add_parser("train", help="train (or resume) an attribute editor",
                       description="Train an editor; re-running the same command resumes from the run's last checkpoint.")
    p.add_argument("--run_dir", default=None,
                   help="run directory (default: runs/<recipe name>, else runs/<method>-<attribute or all>-<data kind>-<size>px)")
    p.add_argument("--recipe", default=None,
                   help=f"start from a recipe's settings (flags given replace them): a file, or one of "
                        f"{', '.join(recipes.names()) or 'the shipped recipes'}")
    p.add_argument("--workers", type=int, default=1,
                   help=_help("start this many local worker processes of one --strategy=multiworker run (loopback "
                              "ports, CPUs split between them); see the README for several machines", 1))
    add_settings_flags(p)
    p.set_defaults(run=cmd_train)

    p = sub.add_parser("export", help="export a run as a SavedModel (TF Serving) and TFLite models",
                       description="Writes <out>/<model_name>/<version>/ atomically; an existing version is kept "
                                   "unless --overwrite.")
    p.add_argument("--run_dir", default=None, help="run directory written by tfface train")
    p.add_argument("--pretrained", default=None, metavar="NAME",
                   help="a bundled editor or iterative GAN instead of a run (see tfface pretrained); writes its "
                        "SavedModel")
    p.add_argument("--out", default="export", help=_help("export root", "export"))
    p.add_argument("--formats", type=_csv, default=None,
                   help=_help("saved_model, or saved_model,tflite", ",".join(FORMATS)))
    p.add_argument("--version", type=int, default=None, help="version number (default: one more than the highest existing)")
    p.add_argument("--overwrite", action="store_true", help=_help("replace an existing version", "off"))
    p.add_argument("--model_name", default=None, help="model name (default: the run directory's name)")
    p.add_argument("--tflite_variants", type=_csv, default=list(TFLITE_VARIANTS),
                   help=_help("TFLite variants to build", ",".join(TFLITE_VARIANTS)))
    p.add_argument("--report_images", type=int, default=32, help=_help("held-out images for the TFLite parity report", 32))
    p.set_defaults(run=cmd_export)

    p = sub.add_parser("edit", help="edit the faces in a photo with an exported residual editor",
                       description="Detects faces (dlib), aligns each, edits it and adds only the residual back to "
                                   "the full-resolution photo.  Needs the faces extra.")
    p.add_argument("--add", action=_EditAction, metavar="ATTRIBUTE",
                   help="add an attribute with its bundled editor (repeatable; edits apply in the order given)")
    p.add_argument("--remove", action=_EditAction, metavar="ATTRIBUTE",
                   help="remove an attribute with its bundled editor (repeatable)")
    p.add_argument("--model", default=None, help="an exported editor instead: SavedModel version directory or .tflite file")
    p.add_argument("--input", required=True, help="photo to edit (any common format)")
    p.add_argument("--output", required=True, help="edited photo (.jpg, .png, .webp, .bmp or .tiff)")
    p.add_argument("--direction", default="add", choices=DIRECTIONS, help=_help("with --model: add or remove the attribute", "add"))
    p.add_argument("--strength", type=float, default=1.0,
                   help=_help("residual scale of every edit (0 = no change, 1 = as trained; a bundled editor's 1 is "
                              "its recommended strength, shown by tfface pretrained)", 1.0))
    p.add_argument("--all_faces", action="store_true",
                   help=_help("edit every face, not only the most confident one (dlib's detector score)", "off"))
    p.add_argument("--overwrite", action="store_true", help=_help("replace an existing output file", "off"))
    p.set_defaults(run=cmd_edit, edits=None)

    p = sub.add_parser("demo", help="a local web page to edit your photo (the demo extra: Gradio)",
                       description="Starts a Gradio app on the bundled editors (or --model); offline, no share link.")
    p.add_argument("--model", default=None, help="an exported editor instead of the bundled ones (SavedModel or .tflite)")
    p.add_argument("--host", default="127.0.0.1", help=_help("address to listen on", "127.0.0.1"))
    p.add_argument("--port", type=int, default=7860, help=_help("port", 7860))
    p.set_defaults(run=cmd_demo)

    p = sub.add_parser("pretrained", help="list the bundled editors and their val scores",
                       description="The editors that ship in the package (tfface/pretrained/registry.json).")
    p.set_defaults(run=cmd_pretrained)

    p = sub.add_parser("evaluate", help="evaluate a run: ground truth, judged flip rate, identity, landmarks",
                       description="Writes <run_dir>/eval/metrics.json and report.md with figures.")
    p.add_argument("--run_dir", required=True, help="run directory to evaluate")
    p.add_argument("--data", default=None,
                   help="test data (default: the run's own test split): celeba:DIR evaluates DIR's test partition "
                        "(val when it has none, every image when there is no partition file), folders:A,B every image "
                        "of A and B; nothing is trained on it")
    p.add_argument("--classifier", default=None,
                   help="judge directory (judge.json + judge.weights.npz; default: the shipped judge for the data kind "
                        "and image size, see tfface judge); nothing is trained")
    p.add_argument("--images", type=int, default=None,
                   help=_help("test images per domain, a random subset fixed for every run", "all of the test split"))
    p.add_argument("--compare", default="", help="comma-separated run directories for the ablation table")
    p.add_argument("--strength", type=float, default=1.0,
                   help="scale the edits as tfface edit --strength does (residual editors: the residual; iterative GANs: "
                        "the change pasted onto the faces, the photo path) (default: 1); at any other value "
                        "the results go to <run_dir>/eval-strength-<S>, leaving <run_dir>/eval as it is")
    p.set_defaults(run=cmd_evaluate)

    p = sub.add_parser("progress", help="quality against training time of runs trained with --judge_every",
                       description="Prints each run's progress.jsonl as a table and draws the curves.")
    p.add_argument("--run_dir", action="append", help="run directory (repeatable)")
    p.add_argument("--pretrained", action="append", metavar="NAME",
                   help="a bundled editor: the run that trained it (repeatable; see tfface pretrained)")
    p.add_argument("--out", default=None, help="PNG chart to write (default: none)")
    p.set_defaults(run=cmd_progress)

    p = sub.add_parser("iterative", help="use a trained iterative GAN: recognize, reconstruct, transform, generate",
                       description="transform edits a photo (faces found by dlib, aligned, and only the change the "
                                   "labels make pasted back, as tfface edit does); with --aligned, and for "
                                   "reconstruct and generate, writes a PNG grid (input | output); recognize prints "
                                   "the attributes.")
    actions = p.add_subparsers(dest="action", metavar="ACTION", required=True, parser_class=_Parser)
    for action, text in (("recognize", "print the attributes C recognises"),
                         ("reconstruct", "rebuild images from their codes G(C(D(x)))"),
                         ("transform", "edit a photo by setting attributes (with --aligned: rebuild aligned crops "
                                       "with some attributes set)"),
                         ("generate", "generate new faces with some attributes set")):
        a = actions.add_parser(action, help=text, description=text)
        a.add_argument("--run_dir", default=None, help="run directory of an iterative run")
        a.add_argument("--pretrained", default=None, metavar="NAME",
                       help="a bundled iterative GAN instead of a run (see tfface pretrained); without --run_dir "
                            "and --pretrained: the bundled iterative GAN, when one is bundled")
        if action != "generate":
            a.add_argument("images", nargs="+", help="image files (any common format)")
        if action in ("transform", "generate"):
            a.add_argument("--set", action="append", metavar="NAME=0|1", help="attribute to set (repeatable)")
        if action == "generate":
            a.add_argument("--num", type=int, default=8, help=_help("faces to generate", 8))
            a.add_argument("--seed", type=int, default=0, help=_help("seed of z", 0))
        if action == "transform":
            a.add_argument("--aligned", action="store_true",
                           help=_help("the images are crops framed like the training images: write a grid of "
                                      "input | output instead of editing a photo", "off"))
            a.add_argument("--strength", type=float, default=1.0,
                           help=_help("photo: scale of the change pasted back (0 = none, 1 = as generated)", 1.0))
            a.add_argument("--all_faces", action="store_true",
                           help=_help("photo: edit every face, not only the most confident one", "off"))
            a.add_argument("--overwrite", action="store_true", help=_help("photo: replace an existing output file", "off"))
            a.add_argument("--output", default=None,
                           help="the edited photo (.jpg, .png, .webp, .bmp or .tiff); with --aligned a PNG grid "
                                "(default: transform.png)")
        elif action != "recognize":
            a.add_argument("--output", default=None, help=f"PNG grid to write (default: {action}.png)")
        a.set_defaults(run=cmd_iterative)

    p = sub.add_parser("judge", help="train the judge: a strong attribute classifier (resumable)",
                       description="Trains on the official train partition with augmentation and a class-balanced "
                                   "loss; reports per-attribute balanced accuracy on val.  Re-run to resume.")
    p.add_argument("--data", default="synthetic", help=_help("synthetic or celeba:DIR", "synthetic"))
    p.add_argument("--image_size", type=int, default=64, help=_help("image size", 64))
    p.add_argument("--epochs", type=int, default=30, help=_help("epochs over the train partition", 30))
    p.add_argument("--batch_size", type=int, default=64, help=_help("batch size", 64))
    p.add_argument("--learning_rate", type=float, default=2e-3, help=_help("Adam learning rate (cosine decay)", 2e-3))
    p.add_argument("--width", type=float, default=1.0, help=_help("channel-width multiplier", 1.0))
    p.add_argument("--seed", type=int, default=0, help=_help("seed", 0))
    p.add_argument("--work_dir", default=None, help="checkpoints, for resuming (default: runs/judge-<size>px)")
    p.add_argument("--out", default=None, help="where judge.json and judge.weights.npz go (default: <work_dir>/judge)")
    p.set_defaults(run=cmd_judge)
    top.commands = sub.choices  # {name: parser}
    return top


def fail(prog, code, message):
    """The one way a command fails: one line on stderr, and the exit code."""
    print(f"{prog}: error: {message}", file=sys.stderr, flush=True)
    return code


def _wrapped_data_error(e):
    """A data error raised inside the tf.data pipeline arrives wrapped in an OpError: its message."""
    line = next((ln.strip() for ln in str(e.message).splitlines() if "BadImageError" in ln), None)
    return line.split("BadImageError:", 1)[-1].strip() if line else None


def main(argv=None, prog="tfface", process=False):
    """Run a command line; returns the exit code.  ``prog`` names a wrapper (``train.py``) that runs one command.

    ``process``: this call is the whole process (``python -m tfface``, ``train.py``, the console script).  Then
    a multi-worker training process leaves through ``os._exit`` once its output is flushed, so no thread of
    TensorFlow's distributed runtime (the coordination service, the collective gRPC server, which has no
    shutdown) can hold it after its last checkpoint and delay its exit code.  Every file has been written and
    closed by then.
    """
    holder = {}
    code = _main(argv, prog, holder)
    if process and getattr(holder.get("args"), "exit_at_once", False):
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(code)
    return code


def command():
    """The ``tfface`` console script: this process runs one command line."""
    return main(process=True)


def _main(argv, prog, holder):
    argv = sys.argv[1:] if argv is None else list(argv)
    parser = build_parser()
    if prog != "tfface":
        parser.commands[argv[0]].prog = prog
    name = prog
    try:
        args, extra = parser.parse_known_args(argv)
        holder["args"] = args
        args.argv = argv[1:] if argv and argv[0] == args.command else argv  # a command's own flags (the launcher)
        name = f"{prog} {args.command}" if prog == "tfface" else prog
        if extra:
            raise ParseError(f"unrecognized arguments: {' '.join(extra)}", name)
        args.run(args)
        sys.stdout.flush()  # a closed pipe fails here, inside the try, not at the interpreter's exit
        return errors.EXIT_OK
    except SystemExit as e:  # --help
        return e.code
    except BrokenPipeError:
        # The reader stopped reading (``| head``): nothing to report to it.  Point stdout at /dev/null so the
        # interpreter's own last flush does not fail again, and exit as a process ended by SIGPIPE does.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return errors.EXIT_BROKEN_PIPE
    except Exception as e:  # noqa: BLE001 - the one place errors become exit codes
        if os.environ.get("TFFACE_DEBUG"):
            raise
        if isinstance(e, ParseError):
            return fail(e.prog, e.exit_code, e)
        if isinstance(e, TffaceError):
            return fail(name, e.exit_code, e)
        if isinstance(e, (FileNotFoundError, FileExistsError, PermissionError, IsADirectoryError, NotADirectoryError)):
            return fail(name, errors.EXIT_DATA, e)
        tf = sys.modules.get("tensorflow")  # loaded by the commands that need it
        if tf is not None and isinstance(e, tf.errors.OpError) and _wrapped_data_error(e):
            return fail(name, errors.EXIT_DATA, _wrapped_data_error(e))
        if isinstance(e, ValueError):
            return fail(name, errors.EXIT_USAGE, e)
        raise
    except KeyboardInterrupt:
        return fail(name, errors.EXIT_INTERRUPTED, "interrupted")
