"""Regenerate examples/astronaut.jpg (run once; the JPEG is committed).

Source: scikit-image's bundled ``astronaut.png`` (skimage.data.astronaut): NASA photograph of
astronaut Eileen Collins, public domain (see scikit-image's data/README.txt). Saved as a
JPEG (quality 90) with a small EXIF block and an sRGB ICC profile, so that the README's demo
shows aimark keeping both byte for byte.
"""

from pathlib import Path

from PIL import Image, ImageCms
from skimage import data

out = Path(__file__).with_name("astronaut.jpg")
img = Image.fromarray(data.astronaut())
exif = Image.Exif()
exif[0x010E] = "Astronaut Eileen Collins (NASA, public domain), via scikit-image"  # ImageDescription
exif[0x0131] = "aimark examples/make_example.py"  # Software
icc = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()
img.save(out, "JPEG", quality=90, exif=exif.tobytes(), icc_profile=icc)
print(out, out.stat().st_size, "bytes")
