"""Configuration and records of per-view metadata."""

from pydantic import BaseModel, ConfigDict, Field


class MetadataConfig(BaseModel):
    """How views are selected, rendered and measured. Any change invalidates the per-scan cache."""

    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)

    frame_stride: int = Field(
        30,
        ge=1,
        le=100_000,
        description="keep the frames whose frame number is a multiple of k, among those with a valid pose",
    )
    blur_threshold: float | None = Field(
        None, ge=0, le=1e6, description="drop frames whose colour variance of Laplacian is below this (None: keep all)"
    )
    render_width: int = Field(324, ge=16, le=4096, description="ray-cast width; height follows the colour aspect ratio")
    depth_tolerance: float = Field(
        0.03,
        gt=0,
        le=10,
        description="metres: a sample farther than the rendered surface "
        "by more than this (plus 1% of its depth) is occluded",
    )
    samples_per_object: int = Field(
        3000, ge=16, le=100_000, description="area-weighted surface samples per object, at most"
    )
    sample_spacing: float = Field(0.03, ge=0.001, le=10, description="metres between visibility samples, at most")
    near: float = Field(0.05, gt=0, le=10, description="near plane, metres")
    sensor_depth: bool = Field(True, description="compare sensor depth (if present) with the rendered depth")

    def with_frame_stride(self, frame_stride: int | None) -> "MetadataConfig":
        """This config with its frame stride overridden (``--frame-stride``; validated); unchanged for None."""
        if frame_stride is None:
            return self
        return self.model_validate(self.model_dump() | {"frame_stride": frame_stride})


class ObjectInView(BaseModel):
    """One object as seen in one view. Pixel quantities are in colour-image pixels (pixel centres at integers)."""

    object_id: int
    label: str
    category: str
    visibility: float
    """Area fraction of the object's surface inside the image and not hidden by other objects."""
    in_frustum: float
    """Area fraction of the object's surface in front of the camera and inside the image (occlusion ignored)."""
    pixel_fraction: float
    """Fraction of the image's pixels that show this object."""
    bbox_2d: list[float]
    """[x1, y1, x2, y2] of the visible part, colour-image pixels."""
    depth_min: float
    depth_median: float
    """Depth (optical axis, metres) of the visible surface samples."""
    centroid_cam: list[float]
    """Mean of the visible surface samples in camera coordinates (x right, y down, z forward), metres."""


class ViewRecord(BaseModel):
    """One selected view of a scan."""

    frame_id: int
    """Frame number in the scan's stream (file number when the layout's time is unknown)."""
    timestamp_us: int | None
    """When the frame was taken, microseconds; None when the frames layout does not say (posed_images subsample)."""
    cam_to_world: list[float]
    """Aligned camera-to-world pose, 16 floats row-major."""
    image_width: int
    image_height: int
    sharpness: float | None
    """Variance of the Laplacian of the grey colour image (None when not computed)."""
    depth_agreement: float | None
    """Fraction of valid sensor-depth pixels within 5 cm + 2% of the rendered depth (None without sensor depth)."""
    objects: list[ObjectInView]
