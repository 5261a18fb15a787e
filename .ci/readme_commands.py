"""Print the README's quick-start commands (its first two ```bash blocks), so that CI runs
them exactly as a reader would type them.  Usage: python3 .ci/readme_commands.py N."""
import re
import sys
from pathlib import Path

README = Path(__file__).resolve().parents[1] / "README.md"
blocks = re.findall(r"```bash\n(.*?)```", README.read_text(), flags=re.S)
if len(blocks) < 2:
    sys.exit("readme_commands: the README has fewer than two ```bash blocks")
print(blocks[int(sys.argv[1])].strip())
