"""The upstream pretrained GANs the lecture uses, as data: where each file lives, what it is, under which licence.

    >>> from ganlab import catalog
    >>> e = catalog.get("progan-celebahq-512")
    >>> e.url, e.resolution, e.non_commercial
    ('https://dl.fbaipublicfiles.com/gan_zoo/PGAN/celebaHQ16_december_s7_i96000-9c72988c.pth', 512, True)
    >>> print(catalog.markdown_table())       # the README's table

Sources (read, not copied): NVlabs/stylegan2-ada-pytorch README ("Data repository": the pretrained/ pickles and
their resolutions); facebookresearch/pytorch_GAN_zoo ``hubconf.py`` on the ``hub`` branch (the checkpoint URLs
``torch.hub.load('facebookresearch/pytorch_GAN_zoo:hub', ...)`` fetches); the lecture notebook
(``../shared/seeds/003_*.txt``: the StyleGAN v1 FFHQ port it downloads); PyPI ``gan_face_generate`` 1.1.1.

Sizes and hashes are only what upstream publishes (or what ganlab verified itself): ``None`` means unknown.
The torch.hub zoo files carry a sha256 prefix in their names (``...-9c72988c.pth``; the zoo's DCGAN has 7 hex
digits, the others 8), which ``torch.hub`` checks and so does ``ganlab.download``. Where no full hash is
published, the first download that converted records one (``ganlab.download.recorded_hashes``) and later
downloads must match it.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field

_NV = "https://nvlabs-fi-cdn.nvidia.com/stylegan2-ada-pytorch/pretrained/"
_ZOO = "https://dl.fbaipublicfiles.com/gan_zoo/"

# licence texts, said once (several entries share them)
NVIDIA_NC = "NVIDIA Source Code License-NC (non-commercial: research and evaluation only)"
STYLEGAN1_NC = "CC BY-NC 4.0 (NVIDIA's StyleGAN weights, non-commercial)"
ZOO_BSD = "BSD-3-Clause (pytorch_GAN_zoo)"
FFHQ = "FFHQ: CC BY-NC-SA 4.0 (NVIDIA), images under their Flickr authors' licences"
METFACES = "MetFaces: CC BY-NC 2.0 (NVIDIA)"
AFHQ = "AFHQ: CC BY-NC 4.0 (Clova AI)"
CELEBA = "CelebA / CelebA-HQ: non-commercial research purposes only"
FORMATS = ("stylegan2-ada", "stylegan1", "progan", "dcgan-zoo", "dcgan-tutorial")


@dataclass(frozen=True)
class Entry:
    name: str                  # ganlab's name; also the folder name an import writes by default
    format: str                # importer format, one of FORMATS
    url: str                   # http(s) URL, or "pip:<requirement>" (fetched with `pip download --no-deps`)
    resolution: int            # output images are resolution x resolution
    channels: int              # 3 = colour
    dataset: str
    licence: str               # the weights' licence, then the training data's terms
    non_commercial: bool | None  # True: the licence forbids commercial use; None: not stated upstream, check
    origin: str                # paper / repository the weights come from
    size: int | None = None    # bytes, where upstream publishes it (None: unknown)
    sha256: str | None = None  # full hex digest, where upstream publishes one
    sha256_prefix: str | None = None  # a published prefix of it (torch.hub file names)
    member: str | None = None  # the file inside the download that the importer reads (a wheel's weights)
    num_classes: int = 0       # > 0: class-conditional
    options: dict = field(default_factory=dict)  # keyword options for import_model(..., **options)
    note: str = ""             # one line shown in the app and the README

    @property
    def filename(self) -> str:
        """The downloaded file's name (the URL's last path segment)."""
        if self.url.startswith("pip:"):
            req = self.url[4:]
            dist, _, version = req.partition("==")
            return f"{dist}-{version}-py3-none-any.whl"
        return self.url.rstrip("/").rsplit("/", 1)[-1].split("?", 1)[0]

    @property
    def size_text(self) -> str:
        return "size not published" if self.size is None else f"{self.size / 1e6:,.1f} MB"


def _sg2(name, file, res, dataset, data_terms, note, num_classes=0, channels=3):
    return Entry(f"stylegan2-ada-{name}", "stylegan2-ada", _NV + file, res, channels, dataset,
                 f"{NVIDIA_NC}; {data_terms}", True,
                 "Karras et al. 2020, Training GANs with Limited Data (NVlabs/stylegan2-ada-pytorch)",
                 num_classes=num_classes, note=note)


def _pgan(name, file, res, dataset, data_terms, non_commercial, note):
    prefix = re.search(r"-([0-9a-f]+)\.pth$", file).group(1)
    return Entry(f"progan-{name}", "progan", _ZOO + "PGAN/" + file, res, 3, dataset, f"{ZOO_BSD}; {data_terms}",
                 non_commercial, "Karras et al. 2018, Progressive Growing of GANs (facebookresearch/pytorch_GAN_zoo)",
                 sha256_prefix=prefix, note=note)


ENTRIES: tuple[Entry, ...] = (
    _sg2("ffhq", "ffhq.pkl", 1024, "FFHQ", FFHQ, "faces; trained with the original StyleGAN2 (the lecture's ffhq.pkl)"),
    _sg2("metfaces", "metfaces.pkl", 1024, "MetFaces", METFACES, "painted portraits; ADA transfer learning from FFHQ"),
    _sg2("afhqcat", "afhqcat.pkl", 512, "AFHQ Cat", AFHQ, "cats; trained from scratch with ADA"),
    _sg2("afhqdog", "afhqdog.pkl", 512, "AFHQ Dog", AFHQ, "dogs; trained from scratch with ADA"),
    _sg2("afhqwild", "afhqwild.pkl", 512, "AFHQ Wild", AFHQ, "wild animals; trained from scratch with ADA"),
    _sg2("cifar10", "cifar10.pkl", 32, "CIFAR-10", "CIFAR-10 (no licence stated by its authors)",
         "class-conditional, 10 classes", num_classes=10),
    Entry("stylegan1-ffhq", "stylegan1", "https://edunet.kea.su/repo/EduNet-web_dependencies/L13/weights_stylegan.pt",
          1024, 3, "FFHQ", f"{STYLEGAN1_NC}; {FFHQ}", True,
          "Karras et al. 2019, A Style-Based Generator (NVlabs/stylegan), PyTorch port by lernapparat (T. Viehmann)",
          note="the state dict the lecture loads; its notebook names the port's release as the source: "
               "https://github.com/lernapparat/lernapparat/releases/download/v2019-02-01/"
               "karras2019stylegan-ffhq-1024x1024.for_g_all.pt"),
    _pgan("celebahq-256", "celebaHQ_s6_i80000-6196db68.pth", 256, "CelebA-HQ", CELEBA, True,
          "torch.hub model_name='celebAHQ-256'"),
    _pgan("celebahq-512", "celebaHQ16_december_s7_i96000-9c72988c.pth", 512, "CelebA-HQ", CELEBA, True,
          "torch.hub model_name='celebAHQ-512' (the lecture's ProGAN)"),
    _pgan("celeba", "celebaCropped_s5_i83000-2b0acc76.pth", 128, "CelebA (cropped)", CELEBA, True,
          "torch.hub model_name='celeba'"),
    _pgan("dtd", "testDTD_s5_i96000-04efa39f.pth", 128, "DTD (textures)",
          "DTD: terms not stated here, check the dataset's page", None, "torch.hub model_name='DTD'"),
    Entry("dcgan-zoo-fashiongen", "dcgan-zoo", _ZOO + "DCGAN_fashionGen-1d67302.pth", 64, 3, "FashionGen",
          f"{ZOO_BSD}; FashionGen: terms not stated here, check the dataset's page", None,
          "Radford et al. 2016, DCGAN (facebookresearch/pytorch_GAN_zoo)", sha256_prefix="1d67302",
          note="torch.hub 'DCGAN' (the lecture's zoo DCGAN): clothes"),
    Entry("dcgan-faces", "dcgan-tutorial", "pip:gan_face_generate==1.1.1", 64, 3, "DigiFace-1M (synthetic faces)",
          "MIT (gan_face_generate, by Chien Liu); DigiFace-1M: check its terms", None,
          "PyTorch DCGAN tutorial layout (Radford et al. 2016), PyPI gan_face_generate 1.1.1",
          size=13_306_246, sha256="24102f4be41d164e44251168ede0458a45e498a888c81493e2aea48529640569",
          member="gan_face_generate/weights.tar",
          note="a real 64-px face DCGAN, fetched with pip from your configured package index"),
)
_BY_NAME = {e.name: e for e in ENTRIES}


def names() -> list[str]:
    return [e.name for e in ENTRIES]


def find(name: str) -> Entry | None:
    """The entry called ``name`` (case-insensitive), or None."""
    return _BY_NAME.get(str(name).strip().lower())


def identify(source: str, sha256: str | None = None) -> Entry | None:
    """The catalog entry that ``source`` (a name, URL or path) is, or None: its name, its exact URL, or, once the
    file's ``sha256`` is known, the file whose hash the entry publishes (in full; or the torch.hub prefix, with
    the same file name). A file name alone proves nothing, so an entry that publishes no hash is recognised by
    its name or URL only."""
    text = str(source).strip()
    entry = find(text) or next((e for e in ENTRIES if e.url == text), None)
    if entry is not None or not sha256:
        return entry
    filename = re.split(r"[/\\]", re.split(r"[?#]", text.rstrip("/"))[0])[-1]
    return next((e for e in ENTRIES if e.sha256 == sha256.lower()
                 or (e.sha256_prefix and sha256.lower().startswith(e.sha256_prefix) and filename == e.filename)), None)


def get(name: str) -> Entry:
    """The entry called ``name``; KeyError listing the known names otherwise."""
    e = find(name)
    if e is None:
        raise KeyError(f"{name!r} is not in ganlab's catalog; known: {', '.join(names())}")
    return e


def licence_text(e: Entry) -> str:
    return ("NON-COMMERCIAL: " if e.non_commercial else "") + e.licence


NC_WORDS = re.compile(r"non[- ]?commercial|\bNC\b|-NC\b", re.IGNORECASE)


def non_commercial(licence: str | None, origin: str | None = None) -> bool | None:
    """ganlab's one rule for whether weights may not be used commercially: the catalog's word for the entry
    downloaded from ``origin`` (a catalog URL) where it has one, else True when the licence text says
    non-commercial (or NC), else None: nothing says so either way, check before commercial use."""
    entry = next((e for e in ENTRIES if origin and e.url == origin), None)
    if entry is not None and entry.non_commercial is not None:
        return entry.non_commercial
    return True if NC_WORDS.search(str(licence or "")) else None


COLUMNS = ["name", "format", "resolution", "classes", "dataset", "download", "licence", "origin"]


def rows() -> list[list[str]]:
    """One row of strings per entry, in COLUMNS order (the app's catalog table)."""
    return [[e.name, e.format, f"{e.resolution}×{e.resolution}" + ("" if e.channels == 3 else " grey"),
             str(e.num_classes) if e.num_classes else "—", e.dataset, e.size_text, licence_text(e), e.origin]
            for e in ENTRIES]


def markdown_table() -> str:
    """The catalog as a Markdown table (for the README); generated, never typed."""
    head = ["name", "format", "resolution", "dataset", "download", "licence", "origin"]
    out = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for e in ENTRIES:
        lic = licence_text(e).replace("NON-COMMERCIAL:", "**NON-COMMERCIAL**:", 1)
        src = e.url if e.url.startswith("pip:") else f"[{e.filename}]({e.url})"
        size = e.size_text
        res = f"{e.resolution} px" + (f", {e.num_classes} classes" if e.num_classes else "")
        cells = [f"`{e.name}`", e.format, res, e.dataset, f"{src} ({size})", lic, e.origin]
        out.append("| " + " | ".join(c.replace("|", "\\|") for c in cells) + " |")
    return "\n".join(out)


if __name__ == "__main__":   # python -m ganlab.catalog → the README table
    print(markdown_table())


def model_name(source: str) -> str:
    """The folder (and model) name of a source: the catalog name, else the file's stem, made a valid name."""
    entry = identify(source)
    if entry:
        return entry.name
    stem = re.split(r"[?#]", source.rstrip("/"))[0].rsplit("/", 1)[-1].rsplit(".", 1)[0]
    name = re.sub(r"\.{2,}", ".", re.sub(r"[^a-z0-9._-]+", "-", stem.lower())).strip("-._")[:64].rstrip("-._")
    return name or "model"          # a valid NAME without "..": the app's model list accepts it
