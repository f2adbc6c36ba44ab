"""What a camera does to a grey crop: resolution lost and scaled back, blur, sensor noise, JPEG. Shared by the
generator (render.py, the last step of every sample) and the augmentation of real training crops
(datasets/augment.py). Each draws its own strength from `rng`."""
import io

import numpy as np
from PIL import Image, ImageFilter


def rescale(image, rng, low_h, out_w, out_h):
    """The crop drawn `low_h` px high (None: as it is), then scaled to out_w x out_h, bicubic or bilinear."""
    if low_h:
        w, h = image.size
        image = image.resize((max(4, int(w * low_h / h)), low_h), Image.BILINEAR)
    return image.resize((out_w, out_h), Image.BICUBIC if rng.random() < 0.5 else Image.BILINEAR)


def blur(image, rng):
    return image.filter(ImageFilter.GaussianBlur(rng.uniform(0.3, 1.0)))


def noise(image, rng):
    """Gaussian noise of a standard deviation of 2-10 grey levels."""
    grey = np.asarray(image, np.float32)
    sigma = rng.uniform(2, 10)
    return Image.fromarray(np.clip(grey + rng.normal(0, sigma, grey.shape), 0, 255).astype(np.uint8))


def jpeg(image, rng):
    """Saved as a JPEG of quality 30-80 and decoded."""
    buf = io.BytesIO()
    image.save(buf, "JPEG", quality=int(rng.integers(30, 80)))
    return Image.open(io.BytesIO(buf.getvalue()))
