from fastapi import APIRouter

router = APIRouter(prefix="/regions", tags=["regions"])
