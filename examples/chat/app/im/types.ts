import 'reflect-metadata';
import { Type } from 'class-transformer';
import {
  ArrayMaxSize, ArrayMinSize, IsArray, IsBoolean, IsLatitude, IsLongitude, IsNotEmpty, IsOptional, IsString, MaxLength, ValidateNested,
} from 'class-validator';

/** `location`: a point on the map, with an optional place name. */
export class LocationContent {
  @IsLatitude()
  lat!: number;

  @IsLongitude()
  lng!: number;

  @IsOptional()
  @IsString()
  @MaxLength(200)
  name?: string;
}

export class PollOption {
  @IsString()
  @IsNotEmpty()
  @MaxLength(32)
  id!: string;

  @IsString()
  @IsNotEmpty()
  @MaxLength(200)
  text!: string;
}

/** `poll`: nested data, a question and 2 to 10 options. */
export class PollContent {
  @IsString()
  @IsNotEmpty()
  @MaxLength(300)
  question!: string;

  @IsArray()
  @ArrayMinSize(2)
  @ArrayMaxSize(10)
  @ValidateNested({ each: true })
  @Type(() => PollOption)
  options!: PollOption[];

  @IsOptional()
  @IsBoolean()
  multiple?: boolean;
}
