"""``checkpoints download sam3``: SAM 3's gated weights through ``huggingface_hub`` with the user's own token.

The file (``facebook/sam3`` / ``sam3.pt``) is gated: Hugging Face serves it to accounts that accepted the SAM
License. samis never asks for, passes or writes a token: ``hf_hub_download`` finds the user's own (``HF_TOKEN`` or
a prior ``hf auth login``). A refusal (no token, no access, no network) is one line saying how to get access.
``hf_hub_download`` writes to a temporary ``.incomplete`` file and renames it when whole, so an interrupted download
leaves no half-written ``sam3.pt``. No torch here.
"""

from __future__ import annotations

import logging
import os
import time
from dataclasses import dataclass
from pathlib import Path

from samis.errors import SamError
from samis.runs import Report
from samis.families.sam3 import ACCESS_HELP, HF_FILE, HF_REPO


@dataclass
class Sam3DownloadReport(Report):
    """What ``checkpoints download sam3`` did."""

    model: str
    path: Path
    source: str
    size: int
    seconds: float

    def summary(self) -> str:
        return (f"{self.path}: {self.size:,} bytes from huggingface.co/{self.source} in {self.seconds:.1f} s; "
                "check it with `python -m samis checkpoints verify PATH` (its key → shape map)")


def _hub():
    """``huggingface_hub`` (imported when SAM 3's weights are downloaded)."""
    try:
        # huggingface_hub is needed only for this download
        import huggingface_hub
        from huggingface_hub import errors
    except ImportError as error:
        raise SamError(f"downloading SAM 3 needs huggingface_hub (pip install 'huggingface-hub<2'): {error}") from None
    return huggingface_hub, errors


def download_sam3(folder: str | os.PathLike, hub=None) -> Sam3DownloadReport:
    """Download ``sam3.pt`` into ``folder`` with the user's own Hugging Face token.

    Args:
        hub: ``(huggingface_hub, huggingface_hub.errors)`` (tests pass a stand-in); default the installed package.

    Raises:
        SamError: no token, no access to the gated repository, or no connection (one line, with how to get access).
    """
    package, errors = hub or _hub()
    folder = Path(folder)
    started = time.perf_counter()
    previous = logging.root.manager.disable
    logging.disable(logging.WARNING)  # the hub's retry warnings repeat the error samis reports in one line
    try:
        path = package.hf_hub_download(repo_id=HF_REPO, filename=HF_FILE, local_dir=folder)
    except errors.GatedRepoError:
        raise SamError(f"huggingface.co/{HF_REPO}: SAM 3's weights are gated and this Hugging Face account has no "
                       f"access (or no token was found); {ACCESS_HELP}") from None
    except (errors.RepositoryNotFoundError, errors.LocalTokenNotFoundError):
        # the Hub answers a gated repository it will not show without a valid token as "not found"
        raise SamError(f"huggingface.co/{HF_REPO}: no valid Hugging Face token with access to SAM 3's gated weights; "
                       f"{ACCESS_HELP}") from None
    except errors.LocalEntryNotFoundError:
        raise SamError(f"huggingface.co/{HF_REPO}: cannot reach Hugging Face to download {HF_FILE} (offline, or "
                       "HF_HUB_OFFLINE is set); try again with a connection") from None
    except errors.HfHubHTTPError as error:
        raise SamError(f"huggingface.co/{HF_REPO}: the download of {HF_FILE} failed "
                       f"({str(error).splitlines()[0][:160]}); {ACCESS_HELP}") from None
    except OSError as error:
        raise SamError(f"{folder}: cannot write {HF_FILE} there ({error.strerror or error})") from None
    finally:
        logging.disable(previous)
    path = Path(path)
    return Sam3DownloadReport("sam3", path, f"{HF_REPO}/{HF_FILE}", path.stat().st_size,
                              time.perf_counter() - started)
