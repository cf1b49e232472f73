"""The examples in docker/examples, built FROM the base image, run and invoked over HTTP as their READMEs show."""

from __future__ import annotations

import base64
import io
import wave

import pytest
import requests
from oscar_python.client_anon import AnonymousClient

from tests.images import png

pytestmark = pytest.mark.images

# Red, green, blue and white stripes: their grays differ, so a real conversion is visible.
STRIPES = [(255, 0, 0), (0, 255, 0), (0, 0, 255), (255, 255, 255)]
PICTURE = png.encode_rgb(8, 4, [STRIPES[x // 2] for _y in range(4) for x in range(8)])


def oscar_client(url: str) -> AnonymousClient:
    """oscar-python against a local container, as the READMEs show (any token: none is configured)."""
    return AnonymousClient({"cluster_id": "local", "endpoint": url, "ssl": False})


@pytest.fixture
def serve(example_image, containers):
    def start(name: str):
        return containers(example_image(name))

    return start


def assert_cow_says(text: str, message: str) -> None:
    assert f"< {message} >" in text, text
    assert "(oo)" in text, text


def test_cowsay_json_body(serve):
    box = serve("cowsay")
    response = requests.post(f"{box.url}/run/cowsay", json={"message": "Hello World"}, timeout=60)
    assert response.status_code == 200, response.text
    assert_cow_says(response.text, "Hello World")


def test_cowsay_through_oscar_python(serve):
    box = serve("cowsay")
    response = oscar_client(box.url).run_service("cowsay", token="local", input='{"message":"Moo from oscar-python"}')
    assert response.status_code == 200, response.text
    assert_cow_says(response.text, "Moo from oscar-python")


def assert_grayscale_of_picture(data: bytes) -> None:
    image = png.decode(data)
    assert (image.width, image.height) == (8, 4)
    assert image.is_grayscale, image.pixels[:8]
    # Four stripes of four different colours: four different grays, not a blank picture.
    assert len({image.pixels[x][0] for x in range(0, 8, 2)}) == 4


def test_grayscale_base64_body(serve):
    box = serve("grayscale")
    response = requests.post(f"{box.url}/run/grayscale", data=base64.b64encode(PICTURE), timeout=60)
    assert response.status_code == 200, response.text
    assert_grayscale_of_picture(base64.b64decode(response.content, validate=True))


def test_grayscale_multipart_upload(serve):
    """The seeds' `curl --form` call."""
    box = serve("grayscale")
    response = requests.post(f"{box.url}/run/grayscale", files={"file": ("stripes.png", PICTURE, "image/png")},
                             timeout=60)
    assert response.status_code == 200, response.text
    assert_grayscale_of_picture(base64.b64decode(response.content, validate=True))


def test_grayscale_through_oscar_python_output_file(serve, tmp_path):
    box = serve("grayscale")
    source, result = tmp_path / "stripes.png", tmp_path / "result.png"
    source.write_bytes(PICTURE)
    response = oscar_client(box.url).run_service("grayscale", token="local", input=str(source), output=str(result))
    assert response.status_code == 200, response.text
    assert_grayscale_of_picture(result.read_bytes())


def test_text_to_speech_text_input(serve):
    """`--text-input "Hello everyone"` sends the text base64-encoded; a WAV file comes back."""
    box = serve("text-to-speech")
    response = requests.post(f"{box.url}/run/text-to-speech", data=base64.b64encode(b"Hello everyone"), timeout=60)
    assert response.status_code == 200, response.text
    audio = base64.b64decode(response.content, validate=True)
    assert audio[:4] == b"RIFF" and audio[8:12] == b"WAVE"
    with wave.open(io.BytesIO(audio)) as sound:
        assert sound.getnchannels() == 1
        assert sound.getframerate() > 8000
        frames = sound.readframes(sound.getnframes())
    assert len(frames) > sound.getsampwidth() * sound.getframerate() // 4  # at least a quarter second
    assert frames.strip(b"\x00"), "the audio is all silence"
